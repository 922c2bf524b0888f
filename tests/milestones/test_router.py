"""Milestones: CRUD with ETags, history equal to GET (the feed: tests/changes/
test_representation.py); the derived slippage
and lateness counted to the database's date; bad input refused by pointer, nothing stored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, pointers
from tests.factories import make_action

MISSING = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"


async def _today(connection: AsyncConnection) -> date:
    today: date = (await connection.execute(text("SELECT current_date"))).scalar_one()
    return today


def _milestone(**fields: Any) -> dict[str, Any]:
    return {"title": "Notification du marché", "kind": "tender", "due_on": "2024-06-30"} | fields


async def _state(connection: AsyncConnection) -> tuple[Any, ...]:
    """What a refused write must leave as it was: the milestones and the change log."""
    row = await connection.execute(
        text(
            "SELECT (SELECT count(*) FROM milestones),"
            " (SELECT coalesce(sum(version), 0) FROM milestones),"
            " (SELECT count(*) FROM changes)"
        )
    )
    return tuple(row.one())


async def test_create_get_update_delete_a_milestone_with_etags(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    today = await _today(connection)
    action = await make_action(client, admin)
    url = app.url_path_for("create_milestone", action_id=action["id"])
    due = today - timedelta(days=10)
    created = await client.post(url, json=_milestone(due_on=due.isoformat()), headers=admin)
    assert created.status_code == 201, created.text
    milestone = created.json()
    item = app.url_path_for("get_milestone", milestone_id=milestone["id"])
    assert created.headers["Location"] == item
    assert created.headers["ETag"] == milestone["etag"]
    assert (milestone["status"], milestone["met_on"], milestone["action_id"]) == (
        "scheduled",
        None,
        action["id"],
    )
    assert (milestone["slippage_days"], milestone["late"]) == (10, True)  # overdue

    got = await client.get(item)
    assert got.json() == milestone
    assert got.headers["ETag"] == milestone["etag"]
    cached = await client.get(item, headers={"If-None-Match": milestone["etag"]})
    assert cached.status_code == 304

    met_on = (due + timedelta(days=3)).isoformat()
    stale = await client.patch(
        item, json={"status": "met", "met_on": met_on}, headers=admin | {"If-Match": '"x-0"'}
    )
    assert_problem(stale, 412)
    met = await client.patch(
        item,
        json={"status": "met", "met_on": met_on},
        headers=admin | {"If-Match": milestone["etag"]},
    )
    assert met.status_code == 200, met.text
    assert (met.json()["slippage_days"], met.json()["late"]) == (3, False)
    assert met.json()["etag"] != milestone["etag"]
    assert met.headers["ETag"] == met.json()["etag"]

    assert_problem(await client.delete(item, headers=admin | {"If-Match": milestone["etag"]}), 412)
    assert (
        await client.delete(item, headers=admin | {"If-Match": met.json()["etag"]})
    ).status_code == 204
    assert_problem(await client.get(item), 404)


@pytest.mark.parametrize(
    ("status", "due_in", "met_in", "slippage", "late"),
    [
        ("scheduled", 5, None, 0, False),  # not yet due
        ("scheduled", 0, None, 0, False),  # due today: not overdue yet
        ("scheduled", -1, None, 1, True),
        ("met", -10, -12, -2, False),  # met early
        ("met", -10, 0, 10, False),  # met late, today
        ("missed", -3, None, None, True),
        ("missed", 7, None, None, True),  # declared missed before its date
        ("cancelled", -30, None, None, False),
    ],
)
async def test_slippage_and_late_follow_the_database_date(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    status: str,
    due_in: int,
    met_in: int | None,
    slippage: int | None,
    late: bool,
) -> None:
    today = await _today(connection)
    action = await make_action(client, admin)
    body = _milestone(status=status, due_on=(today + timedelta(days=due_in)).isoformat())
    if met_in is not None:
        body["met_on"] = (today + timedelta(days=met_in)).isoformat()
    url = app.url_path_for("create_milestone", action_id=action["id"])
    created = await client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["slippage_days"], created.json()["late"]) == (slippage, late)
    listed = (await client.get(url)).json()["items"]
    assert listed == [created.json()]


async def test_history_shows_milestones_as_get_does(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for("create_milestone", action_id=action["id"])
    milestone = (await client.post(url, json=_milestone(), headers=admin)).json()
    item = app.url_path_for("update_milestone", milestone_id=milestone["id"])
    changed = (await client.patch(item, json={"title": "Marché notifié"}, headers=admin)).json()
    history = await client.get(
        app.url_path_for("get_milestone_history", resource_id=milestone["id"])
    )
    assert history.status_code == 200, history.text
    versions = history.json()["items"]
    assert [v["op"] for v in versions] == ["create", "update"]
    assert versions[0]["data"] == milestone
    assert versions[1]["data"] == changed
    assert versions[1]["changed"] == {
        "title": {"before": "Notification du marché", "after": "Marché notifié"}
    }
    assert versions[1]["actor"]["role"] == "admin"

    assert (await client.delete(item, headers=admin)).status_code == 204
    gone = await client.get(app.url_path_for("get_milestone_history", resource_id=milestone["id"]))
    assert [v["op"] for v in gone.json()["items"]] == ["create", "update", "delete"]
    assert gone.json()["items"][-1]["data"] is None


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (_milestone(met_on="2024-07-01"), "/met_on"),  # met_on with status scheduled
        (_milestone(status="missed", met_on="2024-07-01"), "/met_on"),
        (_milestone(status="met"), "/met_on"),  # met without a date
        (_milestone(status="met", met_on="2999-01-01"), "/met_on"),  # met in the future
        (_milestone(status="late"), "/status"),
        (_milestone(kind="permit"), "/kind"),
        (_milestone(due_on="2024-02-30"), "/due_on"),
        (_milestone(due_on="1719705600"), "/due_on"),
        (_milestone(title=""), "/title"),
        (_milestone(slippage_days=3), "/slippage_days"),  # read-only
        ({"kind": "tender", "due_on": "2024-06-30"}, "/title"),
    ],
)
async def test_bad_milestone_is_refused_by_pointer_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    body: dict[str, Any],
    pointer: str,
) -> None:
    action = await make_action(client, admin)
    before = await _state(connection)
    url = app.url_path_for("create_milestone", action_id=action["id"])
    problem = assert_problem(await client.post(url, json=body, headers=admin), 422)
    assert pointer in pointers(problem)
    assert await _state(connection) == before


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"status": "scheduled"}, "/met_on"),  # leaves met_on behind
        ({"met_on": None}, "/met_on"),  # a met milestone without its date
        ({"status": "cancelled"}, "/met_on"),
        ({"kind": None}, "/kind"),
    ],
)
async def test_bad_update_is_refused_by_pointer_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    patch: dict[str, Any],
    pointer: str,
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for("create_milestone", action_id=action["id"])
    body = _milestone(status="met", met_on="2024-07-01")
    milestone = (await client.post(url, json=body, headers=admin)).json()
    before = await _state(connection)
    item = app.url_path_for("update_milestone", milestone_id=milestone["id"])
    problem = assert_problem(await client.patch(item, json=patch, headers=admin), 422)
    assert pointer in pointers(problem)
    assert await _state(connection) == before
    back = await client.patch(item, json={"status": "scheduled", "met_on": None}, headers=admin)
    assert back.status_code == 200, back.text


async def test_database_refuses_met_on_with_status_scheduled(
    connection: AsyncConnection, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Whatever writes (psql, a bug), the CHECK holds the rule the service checks first."""
    action = await make_action(client, admin)
    with pytest.raises(Exception, match="milestones_met_on_iff_met_check"):
        async with connection.begin_nested():
            await connection.execute(
                text(
                    "INSERT INTO milestones (action_id, title, due_on, met_on, status, version)"
                    " VALUES (CAST(:a AS uuid), 't', '2024-01-01', '2024-01-02', 'scheduled', 1)"
                ),
                {"a": action["id"]},
            )


async def test_unknown_action_answers_404(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = app.url_path_for("create_milestone", action_id=MISSING)
    assert_problem(await client.post(url, json=_milestone(), headers=admin), 404)
    assert_problem(await client.get(url), 404)


async def test_an_action_with_milestones_is_not_deleted(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for("create_milestone", action_id=action["id"])
    assert (await client.post(url, json=_milestone(), headers=admin)).status_code == 201
    assert_problem(await client.delete(f"/v1/actions/{action['id']}", headers=admin), 409)


async def test_partner_keys_do_not_write_milestones(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    action = await make_action(client, admin)
    partner = await make_key(Role.partner, "BDT")
    url = app.url_path_for("create_milestone", action_id=action["id"])
    assert_problem(await client.post(url, json=_milestone(), headers=partner), 403)
