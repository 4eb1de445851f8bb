"""List the Zoho Books organizations of the connected user, with requests."""

import requests

from zoho_tokens.datacenters import api_domain_for
from zoho_tokens.http import ZohoAuth


def books_organizations(api: str | None = None) -> list[dict]:
    api = api or api_domain_for()  # https://www.zohoapis.com, or your data center's
    response = requests.get(f"{api}/books/v3/organizations", auth=ZohoAuth(), timeout=10)
    response.raise_for_status()
    return response.json()["organizations"]
