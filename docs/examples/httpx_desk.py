"""List Zoho Desk tickets with an httpx.Client shared by many calls."""

import httpx

from zoho_tokens.http import ZohoAuth


def desk_tickets(desk: str = "https://desk.zoho.com", org_id: str = "2389290") -> list[dict]:
    auth = ZohoAuth(user_name="ann@example.com:700000001")  # one of several connections
    with httpx.Client(base_url=desk, auth=auth, headers={"orgId": org_id}, timeout=10) as client:
        response = client.get("/api/v1/tickets")
        response.raise_for_status()
        return response.json()["data"]
