"""Test data for the open-data exports: published and unpublishable grants, through the API."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.factories import make_action, make_commitment, partner_id

GRANT = {
    "instrument": "grant",
    "status": "committed",
    "signed_on": "2024-03-15",
    "beneficiary_name": "Ville de Marseille",
    "beneficiary_siret": "21130055300016",
    "decision_ref": "DEL-2024-0315",
}


async def amp(client: httpx.AsyncClient) -> str:
    return await partner_id(client, "AMP")


async def publishable_grant(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    action = (
        fields.pop("action_id", None)
        or (await make_action(client, headers, end_date="2026-12-31", communes=["13055"]))["id"]
    )
    return await make_commitment(
        client,
        headers,
        action_id=action,
        partner_id=fields.pop("partner_id", None) or await amp(client),
        **(GRANT | fields),
    )


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))
