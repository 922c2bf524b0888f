"""Programmes over HTTP: the list and its filters, validation, ETags, history, the change feed,
what may not be deleted, and priorities attached to one programme."""

from __future__ import annotations

from typing import Any

import httpx

from tests.changes.feed import end_cursor
from tests.conftest import assert_problem, pointers

BODY: dict[str, Any] = {
    "code": "CRTE-2023-2027",
    "name": "Contrat de relance et de transition écologique",
    "start_year": 2023,
    "end_year": 2027,
    "territory_code": "13055",
    "status": "draft",
}


async def _first(client: httpx.AsyncClient) -> dict[str, Any]:
    [programme] = (await client.get("/v1/programmes")).json()["items"]
    return programme  # type: ignore[no-any-return]


async def test_the_migration_made_one_programme_that_owns_every_priority(
    client: httpx.AsyncClient,
) -> None:
    programme = await _first(client)
    assert (programme["code"], programme["start_year"], programme["end_year"]) == (
        "AMP-RR-2020-2026",
        2020,
        2026,
    )
    assert programme["territory_code"] == "200054807"
    priorities = (await client.get("/v1/priorities")).json()["items"]
    assert priorities
    assert {p["programme_id"] for p in priorities} == {programme["id"]}
    chantiers = (await client.get("/v1/chantiers", params={"limit": 100})).json()["items"]
    assert chantiers
    assert {c["programme_id"] for c in chantiers} == {programme["id"]}


async def test_create_get_list_filter_patch_and_delete_a_programme(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    response = await client.post("/v1/programmes", json=BODY, headers=editor)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"].endswith(f"/v1/programmes/{created['id']}")
    assert {k: created[k] for k in BODY} == BODY

    got = await client.get(f"/v1/programmes/{created['id']}")
    assert got.json() == created
    assert got.headers["etag"] == created["etag"]
    unchanged = await client.get(
        f"/v1/programmes/{created['id']}", headers={"If-None-Match": created["etag"]}
    )
    assert unchanged.status_code == 304

    by_code = await client.get("/v1/programmes", params={"code": BODY["code"]})
    assert [p["id"] for p in by_code.json()["items"]] == [created["id"]]
    by_status = await client.get("/v1/programmes", params={"status": "active"})
    assert created["id"] not in [p["id"] for p in by_status.json()["items"]]
    page = await client.get("/v1/programmes", params={"limit": 1})
    assert len(page.json()["items"]) == 1
    assert page.json()["next_cursor"]
    rest = await client.get("/v1/programmes", params={"cursor": page.json()["next_cursor"]})
    assert len(rest.json()["items"]) == 1

    stale = await client.patch(
        f"/v1/programmes/{created['id']}",
        json={"status": "active"},
        headers=editor | {"If-Match": '"000000000000-1"'},
    )
    assert_problem(stale, 412)
    patched = await client.patch(
        f"/v1/programmes/{created['id']}",
        json={"status": "active"},
        headers=editor | {"If-Match": created["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "active"
    assert patched.json()["etag"] != created["etag"]

    deleted = await client.delete(f"/v1/programmes/{created['id']}", headers=editor)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/v1/programmes/{created['id']}"), 404)
    history = (await client.get(f"/v1/programmes/{created['id']}/history")).json()["items"]
    assert [v["op"] for v in history] == ["create", "update", "delete"]
    assert history[1]["changed"]["status"] == {"before": "draft", "after": "active"}
    assert history[0]["data"]["code"] == BODY["code"]


async def test_change_feed_carries_programmes_as_get_shows_them(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    start = await end_cursor(database_url)
    created = (await live_client.post("/v1/programmes", json=BODY, headers=live_admin)).json()
    # Committed: deleted again so that the other tests still find a single programme.
    deleted = await live_client.delete(f"/v1/programmes/{created['id']}", headers=live_admin)
    assert deleted.status_code == 204
    feed = await live_client.get(
        "/v1/changes", params={"cursor": start, "resource": "programmes", "limit": 500}
    )
    assert feed.status_code == 200, feed.text
    items = [i for i in feed.json()["items"] if i["resource_id"] == created["id"]]
    assert [(i["op"], i["data"]) for i in items] == [("create", created), ("delete", None)]


async def test_bad_programmes_are_422_naming_the_fields(
    client: httpx.AsyncClient, editor: dict[str, str], connection: Any
) -> None:
    backwards = await client.post(
        "/v1/programmes", json=BODY | {"start_year": 2028}, headers=editor
    )
    assert pointers(assert_problem(backwards, 422)) == ["/end_year"]
    unknown_commune = await client.post(
        "/v1/programmes", json=BODY | {"territory_code": "99999"}, headers=editor
    )
    assert pointers(assert_problem(unknown_commune, 422)) == ["/territory_code"]
    malformed = await client.post(
        "/v1/programmes", json=BODY | {"territory_code": "2000", "status": "open"}, headers=editor
    )
    assert sorted(pointers(assert_problem(malformed, 422))) == ["/status", "/territory_code"]
    programme = await _first(client)
    narrowed = await client.patch(
        f"/v1/programmes/{programme['id']}", json={"start_year": 2030}, headers=editor
    )
    assert pointers(assert_problem(narrowed, 422)) == ["/start_year"]
    taken = await client.post(
        "/v1/programmes", json=BODY | {"code": programme["code"]}, headers=editor
    )
    assert_problem(taken, 409)
    listed = (await client.get("/v1/programmes")).json()["items"]
    assert [p["id"] for p in listed] == [programme["id"]]


async def test_a_programme_with_priorities_cannot_be_deleted(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    programme = await _first(client)
    response = await client.delete(f"/v1/programmes/{programme['id']}", headers=editor)
    assert_problem(response, 409, "STILL_REFERENCED")
    assert (await client.get(f"/v1/programmes/{programme['id']}")).status_code == 200


async def test_priority_without_programme_needs_exactly_one_programme(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    first = await _first(client)
    alone = await client.post(
        "/v1/priorities", json={"code": "SEULE", "name": "Seule"}, headers=editor
    )
    assert alone.status_code == 201, alone.text
    assert alone.json()["programme_id"] == first["id"]

    second = (await client.post("/v1/programmes", json=BODY, headers=editor)).json()
    ambiguous = await client.post(
        "/v1/priorities", json={"code": "AMBIGUE", "name": "Ambiguë"}, headers=editor
    )
    assert pointers(assert_problem(ambiguous, 422)) == ["/programme_id"]
    chosen = await client.post(
        "/v1/priorities",
        json={"code": "CHOISIE", "name": "Choisie", "programme_id": second["id"]},
        headers=editor,
    )
    assert chosen.status_code == 201, chosen.text
    listed = await client.get("/v1/priorities", params={"programme_id": second["id"]})
    assert [p["code"] for p in listed.json()["items"]] == ["CHOISIE"]
    unknown = await client.post(
        "/v1/priorities",
        json={"code": "X", "name": "X", "programme_id": "00000000-0000-0000-0000-000000000000"},
        headers=editor,
    )
    assert pointers(assert_problem(unknown, 422)) == ["/programme_id"]
