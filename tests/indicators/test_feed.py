"""Indicators and actions' records in the change feed and history, with requests that commit
for real (the records' children are checked at commit): every item is what GET answered at
that version, one entry per write, however many values a write carries."""

from __future__ import annotations

from typing import Any

import httpx

from tests.changes.feed import end_cursor
from tests.factories import make_action, partner_id
from tests.indicators.helpers import make_indicator, record_url

Headers = dict[str, str]


async def _feed(client: httpx.AsyncClient, cursor: str, resource: str, id: str) -> list[Any]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"cursor": cursor, "resource": resource, "limit": 1000}
        page = (await client.get("/v1/changes", params=params)).json()
        items += [i for i in page["items"] if i["resource_id"] == id]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items


async def test_feed_and_history_carry_what_get_answered(
    live_client: httpx.AsyncClient, live_admin: Headers, database_url: str
) -> None:
    c, admin = live_client, live_admin
    start = await end_cursor(database_url)
    ind = await make_indicator(c, admin, aggregation="none")
    ind_url = f"/v1/indicators/{ind['id']}"
    seen_ind = [(await c.get(ind_url)).json()]
    assert (await c.patch(ind_url, json={"unit": "m", "name": "Tram"}, headers=admin)).is_success
    seen_ind.append((await c.get(ind_url)).json())

    action = await make_action(c, admin)
    url = record_url(action["id"], ind["id"])
    bodies = [
        {
            "targets": [{"year": 2024, "value": "20"}],
            "actuals": [{"on": "2023-01-02", "value": "3"}],
        },
        {
            "baseline": {"value": "1.5", "on": "2020-02-01"},
            "targets": [{"year": 2024, "value": "20"}, {"year": 2025, "value": "25.25"}],
            "actuals": [{"on": "2023-01-02", "value": "3"}, {"on": "2024-03-04", "value": "9"}],
        },
    ]
    seen: list[dict[str, Any]] = []
    for body in bodies:
        assert (await c.put(url, json=body, headers=admin)).is_success
        seen.append((await c.get(url)).json())
    bdt = await partner_id(c, "BDT")
    items = [
        {
            "external_ref": f"F-{n}",
            "action_code": action["code"],
            "indicator_code": ind["code"],
            "on": f"2024-0{n + 1}-15",
            "value": f"{10 + n}",
        }
        for n in range(3)
    ]
    pushed = await c.put(
        f"/v1/partners/{bdt}/indicator-values", json={"items": items}, headers=admin
    )
    assert pushed.json()["created"] == 3
    seen.append((await c.get(url)).json())
    record_id = seen[0]["id"]
    try:
        ind_feed = await _feed(c, start, "indicators", ind["id"])
        feed = await _feed(c, start, "action_indicators", record_id)
        history = (await c.get(f"/v1/action_indicators/{record_id}/history")).json()["items"]
        ind_history = (await c.get(f"{ind_url}/history")).json()["items"]
    finally:
        assert (await c.delete(url, headers=admin)).status_code == 204
        assert (await c.delete(ind_url, headers=admin)).status_code == 204

    assert [i["data"] for i in ind_feed] == seen_ind == [e["data"] for e in ind_history]
    assert [i["version"] for i in feed] == [1, 2, 3]  # the batch of three: one entry
    assert [i["data"] for i in feed] == seen == [e["data"] for e in history]
    assert [e["op"] for e in history] == ["create", "update", "update"]
    assert set(history[2]["changed"]) == {"actuals", "achievement"}
    assert seen[2]["achievement"][0] == {
        "year": 2024,
        "actual": "12",
        "achievement": "0.5676",
    }  # 10.5 / 18.5
    tombstones = await _feed(c, start, "action_indicators", record_id)
    assert tombstones[-1]["op"] == "delete"
    assert tombstones[-1]["data"] is None
