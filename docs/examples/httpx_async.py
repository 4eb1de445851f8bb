"""Fetch Books organizations and Desk tickets at the same time, from async code."""

import asyncio

import httpx

from zoho_tokens.datacenters import api_domain_for
from zoho_tokens.http import ZohoAuth


async def books_and_desk(api: str | None = None, desk: str = "https://desk.zoho.com"):
    api = api or api_domain_for()
    async with httpx.AsyncClient(auth=ZohoAuth(), timeout=10) as client:
        books, tickets = await asyncio.gather(
            client.get(f"{api}/books/v3/organizations"),
            client.get(f"{desk}/api/v1/tickets", headers={"orgId": "2389290"}),
        )
    return books.json()["organizations"], tickets.json()["data"]
