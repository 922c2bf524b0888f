"""Chantiers over HTTP: priorities served, yearly targets, and what may not be deleted."""

from __future__ import annotations

import httpx

from tests.conftest import assert_problem, pointers
from tests.factories import chantier_id, make_action


async def _priority_ids(client: httpx.AsyncClient) -> dict[str, str]:
    items = (await client.get("/v1/priorities")).json()["items"]
    return {p["code"]: p["id"] for p in items}


async def test_create_chantier_with_priorities_and_targets(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    ids = await _priority_ids(client)
    body = {
        "number": 9,
        "code": "NOUVEAU",
        "name": "Nouveau chantier",
        "priority_ids": [ids["EMPLOI"], ids["TRANSITION"]],
        "targets": [{"year": 2025, "amount": "12.5"}, {"year": 2024, "amount": "10"}],
    }
    response = await client.post("/v1/chantiers", json=body, headers=editor)
    assert response.status_code == 201, response.text
    created = response.json()
    assert sorted(created["priority_ids"]) == sorted([ids["EMPLOI"], ids["TRANSITION"]])
    assert created["targets"] == [
        {"year": 2024, "amount": "10.00"},
        {"year": 2025, "amount": "12.50"},
    ]
    listed = await client.get("/v1/chantiers", params={"priority_id": ids["EMPLOI"], "limit": 500})
    assert created["id"] in [c["id"] for c in listed.json()["items"]]


async def test_patch_targets_replaces_them_and_changes_the_etag(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    cid = await chantier_id(client, 5)
    before = (await client.get(f"/v1/chantiers/{cid}")).json()
    response = await client.patch(
        f"/v1/chantiers/{cid}",
        json={"targets": [{"year": 2026, "amount": "1.00"}]},
        headers=editor | {"If-Match": before["etag"]},
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["targets"] == [{"year": 2026, "amount": "1.00"}]
    assert after["etag"] != before["etag"]
    assert after["priority_ids"] == before["priority_ids"]


async def test_patch_priority_ids_changes_the_set(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    ids = await _priority_ids(client)
    cid = await chantier_id(client, 1)
    response = await client.patch(
        f"/v1/chantiers/{cid}", json={"priority_ids": [ids["INCLUSION"]]}, headers=editor
    )
    assert response.status_code == 200, response.text
    assert response.json()["priority_ids"] == [ids["INCLUSION"]]
    fetched = (await client.get(f"/v1/chantiers/{cid}")).json()
    assert fetched["priority_ids"] == [ids["INCLUSION"]]


async def test_unknown_priority_and_year_outside_period_point_at_the_items(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    ids = await _priority_ids(client)
    body = {
        "number": 10,
        "code": "MAUVAIS",
        "name": "Mauvais",
        "priority_ids": [ids["EMPLOI"], "00000000-0000-0000-0000-000000000000"],
        "targets": [{"year": 2024, "amount": "1.00"}, {"year": 2031, "amount": "1.00"},
                    {"year": 2024, "amount": "2.00"}],
    }  # fmt: skip
    response = await client.post("/v1/chantiers", json=body, headers=editor)
    assert pointers(assert_problem(response, 422)) == [
        "/priority_ids/1",
        "/targets/1/year",
        "/targets/2/year",
    ]


async def test_chantier_with_actions_cannot_be_deleted(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    cid = await chantier_id(client, 3)
    await make_action(client, editor, chantier_id=cid)
    assert_problem(
        await client.delete(f"/v1/chantiers/{cid}", headers=editor), 409, "STILL_REFERENCED"
    )
    assert (await client.get(f"/v1/chantiers/{cid}")).status_code == 200


async def test_priority_served_by_a_chantier_cannot_be_deleted(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    ids = await _priority_ids(client)
    response = await client.delete(f"/v1/priorities/{ids['EMPLOI']}", headers=editor)
    assert_problem(response, 409, "STILL_REFERENCED")


async def test_duplicate_chantier_number_is_409_naming_number(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/chantiers", json={"number": 5, "code": "AUTRE", "name": "x"}, headers=editor
    )
    assert pointers(assert_problem(response, 409, "CONFLICT")) == ["/number"]
