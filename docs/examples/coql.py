"""Run a COQL query against Zoho CRM with requests (the SDK's QueryOperations, without it)."""

import requests

from zoho_tokens.datacenters import api_domain_for
from zoho_tokens.http import ZohoAuth


def lead_names(api: str | None = None) -> list[str]:
    api = api or api_domain_for()
    query = {"select_query": "select Last_Name, Email from Leads limit 200"}
    response = requests.post(f"{api}/crm/v8/coql", json=query, auth=ZohoAuth(), timeout=10)
    response.raise_for_status()
    if response.status_code == 204:  # Zoho answers 204 No Content when nothing matches
        return []
    return [lead["Last_Name"] for lead in response.json()["data"]]
