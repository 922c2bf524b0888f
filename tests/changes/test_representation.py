"""One representation per resource: a change-feed item's `data` and a history entry's `data`
are what GET answered at that version, field by field (ETag, timestamps, money, a chantier's
priorities and targets…), because they are built by the same read model."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.changes.feed import end_cursor
from tests.database import plain
from tests.factories import chantier_id, make_action, make_commitment, partner_id

Headers = dict[str, str]
# Writes one resource (create, then updates); returns its URL and GET's body after each write,
# and a cleanup for what the live app's teardown does not remove.
Scenario = Callable[
    [httpx.AsyncClient, Headers],
    Awaitable[tuple[str, list[dict[str, Any]], Callable[[], Awaitable[None]]]],
]


async def _versions(
    client: httpx.AsyncClient, headers: Headers, path: str, body: dict[str, Any], *patches: Any
) -> tuple[str, list[dict[str, Any]]]:
    created = await client.post(path, json=body, headers=headers)
    assert created.status_code == 201, created.text
    url = f"{path}/{created.json()['id']}"
    seen = [(await client.get(url)).json()]
    for patch in patches:
        response = await client.patch(url, json=patch, headers=headers)
        assert response.status_code == 200, response.text
        seen.append((await client.get(url)).json())
    return url, seen


async def _nothing() -> None:
    return None


async def _priority(client: httpx.AsyncClient, admin: Headers) -> Any:
    url, seen = await _versions(
        client,
        admin,
        "/v1/priorities",
        {"code": f"P-{uuid.uuid4().hex[:6]}", "name": "Cohésion", "position": 4},
        {"name": "Cohésion territoriale", "description": "Quartiers prioritaires"},
    )

    async def cleanup() -> None:
        assert (await client.delete(url, headers=admin)).status_code == 204

    return url, seen, cleanup


async def _chantier(client: httpx.AsyncClient, admin: Headers) -> Any:
    priority = await client.post(
        "/v1/priorities", json={"code": f"P-{uuid.uuid4().hex[:6]}", "name": "P"}, headers=admin
    )
    seeded = (await client.get("/v1/priorities", params={"code": "EMPLOI"})).json()["items"][0]
    priority_ids = sorted([priority.json()["id"], seeded["id"]])
    url, seen = await _versions(
        client,
        admin,
        "/v1/chantiers",
        {
            "number": 900 + uuid.uuid4().int % 100,
            "code": f"C-{uuid.uuid4().hex[:6]}",
            "name": "Ports",
            "priority_ids": priority_ids,
            "targets": [{"year": 2025, "amount": "12.5"}, {"year": 2024, "amount": "1000000"}],
        },
        {"targets": [{"year": 2024, "amount": "7.10"}]},
        {"priority_ids": priority_ids[:1], "description": "Grand port maritime"},
    )

    async def cleanup() -> None:
        assert (await client.delete(url, headers=admin)).status_code == 204
        priority_url = f"/v1/priorities/{priority.json()['id']}"
        assert (await client.delete(priority_url, headers=admin)).status_code == 204

    return url, seen, cleanup


async def _action(client: httpx.AsyncClient, admin: Headers) -> Any:
    url, seen = await _versions(
        client,
        admin,
        "/v1/actions",
        {
            "code": f"A-{uuid.uuid4().hex[:6]}",
            "chantier_id": await chantier_id(client),
            "title": "Tramway",
            "start_date": "2022-03-01",
            "end_date": "2025-12-31",
            "communes": ["13055", "2A004"],
            "lead_partner_id": await partner_id(client, "AMP"),
        },
        {"progress": 40, "status": "in_progress", "end_date": None},
    )
    return url, seen, _nothing


async def _partner(client: httpx.AsyncClient, admin: Headers) -> Any:
    code = f"T{uuid.uuid4().hex[:6].upper()}"
    url, seen = await _versions(
        client,
        admin,
        "/v1/partners",
        {"code": code, "name": "Région Sud", "kind": "region"},
        {"siren": "231300021"},
    )
    return url, seen, _nothing


async def _commitment(client: httpx.AsyncClient, admin: Headers) -> Any:
    action = await make_action(client, admin)
    url, seen = await _versions(
        client,
        admin,
        "/v1/commitments",
        {
            "action_id": action["id"],
            "partner_id": await partner_id(client, "BDT"),
            "external_ref": f"R-{uuid.uuid4().hex[:6]}",
            "year": 2024,
            "amount": "1250000",
            "instrument": "loan",
            "signed_on": "2024-03-15",
        },
        {"disbursed_amount": "250000.5", "status": "committed"},
        {"amount": "1250000.10", "label": "tranche 2"},
    )
    return url, seen, _nothing


async def _milestone(client: httpx.AsyncClient, admin: Headers) -> Any:
    """Created at its action's list, read at /v1/milestones/{id}; overdue (its slippage counted
    to the database's date, in the feed as in GET), then met."""
    action = await make_action(client, admin)
    created = await client.post(
        f"/v1/actions/{action['id']}/milestones",
        json={"title": "Ordre de service", "kind": "works_start", "due_on": "2024-02-01"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    url = f"/v1/milestones/{created.json()['id']}"
    seen = [(await client.get(url)).json()]
    assert seen[0]["late"] is True
    met = {"status": "met", "met_on": "2024-03-04"}
    assert (await client.patch(url, json=met, headers=admin)).status_code == 200
    seen.append((await client.get(url)).json())

    async def cleanup() -> None:
        assert (await client.delete(url, headers=admin)).status_code == 204

    return url, seen, cleanup


async def _financing_plan(client: httpx.AsyncClient, admin: Headers) -> Any:
    """A plan created, its lines replaced, then a commitment that secures part of a line:
    each moves what GET shows, so each is a version."""
    action = await make_action(client, admin)
    bdt, amp = await partner_id(client, "BDT"), await partner_id(client, "AMP")
    url = f"/v1/actions/{action['id']}/financing-plan"
    lines = [{"partner_id": bdt, "instrument": "loan", "amount": "600000.00"}]
    body = {"total_cost": "1500000", "eligible_cost": "1000000", "lines": lines}
    seen = []
    for change in (
        {},
        {
            "lead_partner_id": amp,
            "lines": [*lines, {"partner_id": amp, "instrument": "grant", "amount": "400000"}],
        },
    ):
        response = await client.put(url, json=body | change, headers=admin)
        assert response.status_code in (200, 201), response.text
        seen.append((await client.get(url)).json())
    commitment = {"action_id": action["id"], "partner_id": bdt, "instrument": "loan"}
    await make_commitment(client, admin, **commitment, amount="250000", status="committed")
    seen.append((await client.get(url)).json())
    assert seen[-1]["secured"] == "250000.00"
    return f"/v1/financing_plans/{action['id']}", seen, _nothing


SCENARIOS: dict[str, Scenario] = {
    "priorities": _priority,
    "chantiers": _chantier,
    "actions": _action,
    "partners": _partner,
    "commitments": _commitment,
    "milestones": _milestone,
    "financing_plans": _financing_plan,
}


async def _feed(client: httpx.AsyncClient, cursor: str, resource: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"cursor": cursor, "resource": resource, "limit": 1000}
        page = (await client.get("/v1/changes", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items


@pytest.mark.parametrize("resource", list(SCENARIOS))
async def test_feed_and_history_carry_what_get_answered_at_each_version(
    live_client: httpx.AsyncClient,
    live_admin: Headers,
    database_url: str,
    resource: str,
) -> None:
    start = await end_cursor(database_url)
    url, seen, cleanup = await SCENARIOS[resource](live_client, live_admin)
    resource_id = seen[0]["id"]
    try:
        mine = [
            i for i in await _feed(live_client, start, resource) if i["resource_id"] == resource_id
        ]
        history = (await live_client.get(f"{url}/history")).json()["items"]
    finally:
        await cleanup()

    assert [item["version"] for item in mine] == list(range(1, len(seen) + 1))
    for item, got in zip(mine, seen, strict=True):
        assert item["resource"] == resource
        assert item["data"] == got  # field by field: etag, timestamps, money, lists
        assert item["data"]["etag"].endswith(f'-{item["version"]}"')
    assert [entry["data"] for entry in history] == seen
    # What changed, as GET showed it before and after.
    for entry, before, after in zip(history[1:], seen[:-1], seen[1:], strict=True):
        expected = {
            name: {"before": before[name], "after": value}
            for name, value in after.items()
            if name not in ("updated_at", "etag") and before[name] != value
        }
        assert entry["changed"] == expected
        assert entry["changed"]  # each update here changes something visible
    first = history[0]["changed"]
    assert set(first) == set(seen[0]) - {"id", "etag", "created_at", "updated_at"}


async def test_timestamps_are_in_utc_like_get_whatever_the_writer_session_time_zone(
    live_client: httpx.AsyncClient, live_admin: Headers, database_url: str
) -> None:
    url, seen, cleanup = await _priority(live_client, live_admin)
    start = await end_cursor(database_url)
    conn = await asyncpg.connect(plain(database_url))
    try:
        # A writer outside the API (psql, a script) in another time zone.
        await conn.execute("SET TimeZone = 'Pacific/Chatham'")
        await conn.execute(
            "UPDATE priorities SET name = 'Écrit ailleurs', version = version + 1,"
            " updated_at = now() WHERE id = $1",
            uuid.UUID(seen[0]["id"]),
        )
        stored = await conn.fetchval(
            "SELECT data->>'updated_at' FROM changes WHERE resource_id = $1 ORDER BY id DESC"
            " LIMIT 1",
            uuid.UUID(seen[0]["id"]),
        )
    finally:
        await conn.close()
    try:
        got = (await live_client.get(url)).json()
        [item] = await _feed(live_client, start, "priorities")
    finally:
        await cleanup()
    assert stored.endswith(("+12:45", "+13:45"))  # the log keeps the writer's rendering
    assert item["data"] == got
    assert got["updated_at"].endswith("Z")
