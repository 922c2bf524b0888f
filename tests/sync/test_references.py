"""References are compared exactly: control characters and surrounding whitespace are refused
(422 naming the item), never trimmed, on every route that takes one."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem, count, pointers
from tests.factories import make_action, make_commitment, partner_id

BAD_REFS = [
    " SP",
    "SP ",
    " SP ",
    "SP\u00a0",  # a no-break space is whitespace too
    "SP\x1c",  # the separators U+001C–U+001F: str.strip() removes them
    "SP\x1f",
    "S\x00P",
    "S\tP",
    "S\nP",
    "S\x7fP",  # DEL
    "S\x85P",  # C1 (NEL)
    "S\x9fP",
]


def _item(action_id: str, **fields: Any) -> dict[str, Any]:
    return {"action_id": action_id, "year": 2024, "amount": "1000.00", "instrument": "loan"} | (
        fields
    )


@pytest.mark.parametrize("ref", BAD_REFS)
async def test_put_by_reference_refuses_it(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection, ref: str
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    before = await count(connection, "commitments")
    url = f"/v1/partners/{bdt}/commitments/{quote(ref, safe='')}"
    body = assert_problem(await client.put(url, json=_item(action["id"]), headers=admin), 422)
    assert pointers(body) == ["/external_ref"], body
    assert await count(connection, "commitments") == before


@pytest.mark.parametrize("ref", BAD_REFS)
async def test_a_batch_refuses_it_naming_the_item(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection, ref: str
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    items = [_item(action["id"], external_ref=f"OK-{i}") for i in range(5)]
    items[3]["external_ref"] = ref
    before = await count(connection, "commitments")
    answer = await client.put(
        f"/v1/partners/{bdt}/commitments", json={"items": items, "prune": {}}, headers=admin
    )
    body = assert_problem(answer, 422)
    assert pointers(body) == ["/items/3/external_ref"], body
    assert await count(connection, "commitments") == before


async def test_spaced_and_plain_references_are_never_two_commitments(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    url = f"/v1/partners/{bdt}/commitments"
    assert (
        await client.put(f"{url}/SP", json=_item(action["id"]), headers=admin)
    ).status_code == 201
    spaced = await client.put(f"{url}/%20SP%20", json=_item(action["id"]), headers=admin)
    assert_problem(spaced, 422)
    batch = await client.put(
        url, json={"items": [_item(action["id"], external_ref=" SP ")]}, headers=admin
    )
    assert pointers(assert_problem(batch, 422)) == ["/items/0/external_ref"]
    assert await count(connection, "commitments WHERE external_ref LIKE '%SP%'") == 1


@pytest.mark.parametrize("ref", [" X", "X\x1e", "X\x00"])
async def test_commitment_create_and_patch_refuse_it(
    client: httpx.AsyncClient, admin: dict[str, str], ref: str
) -> None:
    action = await make_action(client, admin)
    body = {
        "action_id": action["id"],
        "partner_id": await partner_id(client, "BDT"),
        "year": 2024,
        "amount": "10.00",
        "instrument": "loan",
        "external_ref": ref,
    }
    created = await client.post("/v1/commitments", json=body, headers=admin)
    assert pointers(assert_problem(created, 422)) == ["/external_ref"]
    stored = await make_commitment(client, admin, action_id=action["id"])
    patched = await client.patch(
        f"/v1/commitments/{stored['id']}",
        json={"external_ref": ref},
        headers=admin | {"If-Match": stored["etag"]},
    )
    assert pointers(assert_problem(patched, 422)) == ["/external_ref"]


async def test_codes_with_surrounding_spaces_are_refused_not_trimmed(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    chantier = (await client.get("/v1/chantiers", params={"number": 5})).json()["items"][0]
    body = {"code": " TRAM-1 ", "chantier_id": chantier["id"], "title": "Tramway"}
    answer = await client.post("/v1/actions", json=body, headers=admin)
    assert pointers(assert_problem(answer, 422)) == ["/code"]


async def test_partner_codes_with_surrounding_spaces_are_refused_not_trimmed(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    before = await count(connection, "partners")
    body = {"code": " REGION ", "name": "Région Sud", "kind": "region"}
    answer = await client.post("/v1/partners", json=body, headers=admin)
    assert pointers(assert_problem(answer, 422)) == ["/code"]
    assert await count(connection, "partners") == before
