"""Partners push measured values by their own references: one, or 10,000 at once, all or
nothing, every bad item named by pointer; each record touched takes one new version."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, count, pointers
from tests.factories import make_action, partner_id
from tests.indicators.helpers import make_indicator, record_url

Headers = dict[str, str]
RECORDS = 20


async def _setup(client: httpx.AsyncClient, admin: Headers) -> tuple[dict[str, Any], list[str]]:
    """An indicator followed by RECORDS actions; returns it and the actions' codes."""
    ind = await make_indicator(client, admin)
    codes = []
    for _ in range(RECORDS):
        action = await make_action(client, admin)
        put = await client.put(record_url(action["id"], ind["id"]), json={}, headers=admin)
        assert put.status_code == 201
        codes.append(action["code"])
    return ind, codes


def _items(ind: dict[str, Any], codes: list[str], n: int) -> list[dict[str, Any]]:
    start = date(2021, 1, 1)
    return [
        {
            "external_ref": f"V-{i}",
            "action_code": codes[i % len(codes)],
            "indicator_code": ind["code"],
            "on": (start + timedelta(days=i // len(codes))).isoformat(),
            "value": f"{i}.{i % 10}",
        }
        for i in range(n)
    ]


async def _versions(connection: AsyncConnection, indicator_id: str) -> list[int]:
    rows = await connection.execute(
        text("SELECT version FROM action_indicators WHERE indicator_id = :i ORDER BY id"),
        {"i": indicator_id},
    )
    return [row[0] for row in rows]


async def test_a_batch_of_10000_with_one_bad_item_stores_nothing(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection
) -> None:
    ind, codes = await _setup(client, admin)
    bdt = await partner_id(client, "BDT")
    items = _items(ind, codes, 10_000)
    items[5017]["action_code"] = "NO-SUCH-ACTION"
    url = f"/v1/partners/{bdt}/indicator-values"
    refused = await client.put(url, json={"items": items}, headers=admin)
    assert pointers(assert_problem(refused, 422)) == ["/items/5017/action_code"]
    assert await count(connection, "indicator_actuals") == 0
    assert await _versions(connection, ind["id"]) == [1] * RECORDS

    items[5017]["action_code"] = codes[5017 % RECORDS]
    stored = await client.put(url, json={"items": items}, headers=admin)
    assert stored.json() == {"created": 10_000, "updated": 0, "unchanged": 0}
    assert await count(connection, "indicator_actuals") == 10_000
    assert await _versions(connection, ind["id"]) == [2] * RECORDS  # one version per record
    # Sent again: nothing changes; one value changed: one record moves.
    again = await client.put(url, json={"items": items}, headers=admin)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 10_000}
    items[3]["value"] = "3.30"  # the same number, another decimal string: a change
    once = await client.put(url, json={"items": items}, headers=admin)
    assert once.json() == {"created": 0, "updated": 1, "unchanged": 9_999}
    assert sorted(await _versions(connection, ind["id"])) == [2] * (RECORDS - 1) + [3]


async def test_every_bad_item_is_named(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection
) -> None:
    ind, codes = await _setup(client, admin)
    other = await make_indicator(client, admin)  # no action follows it
    bdt = await partner_id(client, "BDT")
    items = _items(ind, codes, 8)
    items[1]["value"] = 12  # a JSON number
    items[2]["on"] = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    items[3]["indicator_code"] = "NO-SUCH-INDICATOR"
    items[4]["indicator_code"] = other["code"]
    items[5]["external_ref"] = items[0]["external_ref"]
    items[6]["value"] = "12,5"
    response = await client.put(
        f"/v1/partners/{bdt}/indicator-values", json={"items": items}, headers=admin
    )
    assert pointers(assert_problem(response, 422)) == [
        "/items/1/value",
        "/items/2/on",
        "/items/3/indicator_code",
        "/items/4/indicator_code",
        "/items/5/external_ref",
        "/items/6/value",
    ]
    assert await count(connection, "indicator_actuals") == 0


async def test_one_value_by_reference_answers_the_record(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    ind = await make_indicator(client, admin)
    action = await make_action(client, admin)
    url = record_url(action["id"], ind["id"])
    base = {
        "baseline": {"value": "0", "on": "2020-01-01"},
        "targets": [{"year": 2024, "value": "8"}],
    }
    await client.put(url, json=base, headers=admin)
    bdt = await partner_id(client, "BDT")
    value = {
        "action_code": action["code"],
        "indicator_code": ind["code"],
        "on": "2024-05-02",
        "value": "2",
    }
    put = await client.put(f"/v1/partners/{bdt}/indicator-values/M-1", json=value, headers=admin)
    assert put.status_code == 201
    assert put.json()["actuals"] == [
        {"on": "2024-05-02", "value": "2", "partner_id": bdt, "external_ref": "M-1"}
    ]
    assert put.json()["achievement"][0]["achievement"] == "0.2500"
    moved = await client.put(
        f"/v1/partners/{bdt}/indicator-values/M-1", json=value | {"value": "6"}, headers=admin
    )
    assert moved.status_code == 200
    assert moved.json()["achievement"][0]["achievement"] == "0.7500"
    assert moved.headers["ETag"] == moved.json()["etag"] == (await client.get(url)).headers["ETag"]


async def test_a_partner_key_pushes_only_its_own_values(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyMaker
) -> None:
    ind, codes = await _setup(client, admin)
    amp_key = await make_key(Role.partner, "AMP")
    bdt = await partner_id(client, "BDT")
    items = _items(ind, codes, 2)
    url = f"/v1/partners/{bdt}/indicator-values"
    assert_problem(await client.put(url, json={"items": items}, headers=amp_key), 403)
    bdt_key = await make_key(Role.partner, "BDT")
    assert (await client.put(url, json={"items": items}, headers=bdt_key)).status_code == 200
