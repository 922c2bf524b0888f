"""Actions, partners and priorities over HTTP: the CRUD cycle and their own rules."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem, count, pointers
from tests.factories import chantier_id, make_action, make_commitment


async def test_action_crud_cycle(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    action = await make_action(
        client,
        editor,
        communes=["13055", "2A004"],
        start_date="2022-01-01",
        end_date="2024-12-31",
        progress=40,
        weight=3,
    )
    assert action["status"] == "planned"
    assert action["communes"] == ["13055", "2A004"]
    assert action["synthetic"] is False
    url = f"/v1/actions/{action['id']}"
    patched = await client.patch(
        url, json={"status": "in_progress", "progress": 55}, headers=editor
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["progress"]) == ("in_progress", 55)
    assert (await client.delete(url, headers=editor)).status_code == 204
    assert_problem(await client.get(url), 404)


async def test_action_filters_by_commune_and_chantier(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    c7 = await chantier_id(client, 7)
    inside = await make_action(client, editor, chantier_id=c7, communes=["13001"])
    await make_action(client, editor, chantier_id=c7, communes=["13055"])
    response = await client.get("/v1/actions", params={"commune": "13001", "chantier_id": c7})
    assert [a["id"] for a in response.json()["items"]] == [inside["id"]]


async def test_action_with_end_before_start_is_422(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    before = await count(connection, "actions")
    response = await client.post(
        "/v1/actions",
        json={
            "code": "DATES",
            "chantier_id": await chantier_id(client),
            "title": "x",
            "start_date": "2024-01-01",
            "end_date": "2023-01-01",
        },
        headers=editor,
    )
    assert_problem(response, 422)
    assert await count(connection, "actions") == before


async def test_patch_end_date_before_stored_start_is_422_from_the_database_check(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    action = await make_action(client, editor, start_date="2024-01-01")
    response = await client.patch(
        f"/v1/actions/{action['id']}", json={"end_date": "2023-01-01"}, headers=editor
    )
    assert pointers(assert_problem(response, 422)) == ["/end_date"]


async def test_action_with_commitments_cannot_be_deleted(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    commitment = await make_commitment(client, editor)
    response = await client.delete(f"/v1/actions/{commitment['action_id']}", headers=editor)
    assert_problem(response, 409, "STILL_REFERENCED")


async def test_bad_commune_code_is_422(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    response = await client.post(
        "/v1/actions",
        json={"code": "X", "chantier_id": await chantier_id(client), "title": "x",
              "communes": ["1305"]},
        headers=editor,
    )  # fmt: skip
    assert pointers(assert_problem(response, 422)) == ["/communes/0"]


async def test_partner_crud_and_kind_filter(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/partners",
        json={"code": "CD13", "name": "Département des Bouches-du-Rhône", "kind": "department",
              "siren": "221300015"},
        headers=editor,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    listed = await client.get("/v1/partners", params={"kind": "department"})
    assert [p["code"] for p in listed.json()["items"]] == ["CD13"]
    bad = await client.post(
        "/v1/partners", json={"code": "x", "name": "n", "kind": "bank"}, headers=editor
    )
    assert sorted(pointers(assert_problem(bad, 422))) == ["/code", "/kind"]


async def test_priority_crud_cycle(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    response = await client.post(
        "/v1/priorities", json={"code": "NUM", "name": "Numérique", "position": 4}, headers=editor
    )
    assert response.status_code == 201, response.text
    url = response.headers["Location"]
    patched = await client.patch(url, json={"description": "d"}, headers=editor)
    assert patched.json()["description"] == "d"
    codes = [p["code"] for p in (await client.get("/v1/priorities")).json()["items"]]
    assert codes == ["EMPLOI", "INCLUSION", "TRANSITION", "NUM"]
    assert (await client.delete(url, headers=editor)).status_code == 204
