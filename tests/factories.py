"""Small builders for test data, through the API itself."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


async def partner_id(client: httpx.AsyncClient, code: str) -> str:
    response = await client.get("/v1/partners", params={"code": code})
    return str(response.json()["items"][0]["id"])


async def chantier_id(client: httpx.AsyncClient, number: int = 5) -> str:
    response = await client.get("/v1/chantiers", params={"number": number})
    return str(response.json()["items"][0]["id"])


async def make_action(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "code": f"TEST-{next(_counter)}",
        "chantier_id": fields.pop("chantier_id", None) or await chantier_id(client),
        "title": "Extension du tramway",
    } | fields
    response = await client.post("/v1/actions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_commitment(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "action_id": fields.pop("action_id", None) or (await make_action(client, headers))["id"],
        "partner_id": fields.pop("partner_id", None) or await partner_id(client, "BDT"),
        "year": 2024,
        "amount": "1000000.00",
        "instrument": "loan",
    } | fields
    response = await client.post("/v1/commitments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
