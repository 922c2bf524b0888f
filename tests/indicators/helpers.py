"""Builders of indicator test data, through the API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_n = itertools.count(1)


async def make_indicator(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "code": f"IND-{next(_n)}-{id(client) % 10000}",
        "name": "Lignes de tramway",
        "unit": "km",
        "direction": "increase",
        "aggregation": "sum",
    } | fields
    response = await client.post("/v1/indicators", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def record_url(action_id: str, indicator_id: str) -> str:
    return f"/v1/actions/{action_id}/indicators/{indicator_id}"
