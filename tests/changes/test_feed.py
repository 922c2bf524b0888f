"""The change feed: commit order, tombstones, cursors, and no row skipped under concurrent writers.

The acceptance test runs one scenario twice: through /v1/changes, which must end with exactly
the rows of the table, and through a naive `updated_at` keyset poller written here, which must
miss rows. The second run proves that the scenario can catch the bug the feed is built against.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import httpx

from app.changes.service import FEED
from app.common.pagination import encode_cursor
from tests.changes.feed import end_cursor
from tests.conftest import assert_problem
from tests.database import plain
from tests.factories import make_action, partner_id


def _item(action_id: str, ref: str, amount: str = "1000.00") -> dict[str, Any]:
    return {
        "external_ref": ref,
        "action_id": action_id,
        "year": 2024,
        "amount": amount,
        "instrument": "loan",
    }


class Poller(Protocol):
    seen: dict[str, int]

    async def poll(self) -> None: ...


class FeedPoller:
    """A partner following /v1/changes: applies each change to its copy, exactly once."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.cursor: str | None = None
        self.seen: dict[str, int] = {}
        self.cursors: list[str] = []
        self.entries: list[tuple[str, int, str]] = []

    async def poll(self) -> None:
        while True:
            params: dict[str, Any] = {"resource": "commitments", "limit": 1000}
            if self.cursor is not None:
                params["cursor"] = self.cursor
            response = await self.client.get("/v1/changes", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            for item in page["items"]:
                self.cursors.append(item["cursor"])
                self.entries.append((item["resource_id"], item["version"], item["op"]))
                if item["op"] == "delete":
                    self.seen.pop(item["resource_id"], None)
                else:
                    self.seen[item["resource_id"]] = item["version"]
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return


class UpdatedAtPoller:
    """The classic bug: `WHERE (updated_at, id) > cursor`, blind to late commits."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.after: tuple[datetime, uuid.UUID] | None = None
        self.seen: dict[str, int] = {}

    async def poll(self) -> None:
        while True:
            if self.after is None:
                rows = await self.conn.fetch(
                    "SELECT id, version, updated_at FROM commitments"
                    " ORDER BY updated_at, id LIMIT 1000"
                )
            else:
                rows = await self.conn.fetch(
                    "SELECT id, version, updated_at FROM commitments"
                    " WHERE (updated_at, id) > ($1, $2) ORDER BY updated_at, id LIMIT 1000",
                    *self.after,
                )
            for row in rows:
                self.seen[str(row["id"])] = row["version"]
                self.after = (row["updated_at"], row["id"])
            if len(rows) < 1000:
                return


async def _table(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT id, version FROM commitments")
    return {str(r["id"]): r["version"] for r in rows}


async def _scenario(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    url: str,
    make_poller: Callable[[asyncpg.Connection], Poller],
) -> tuple[Poller, dict[str, int]]:
    """A 10,000-item batch, 60 single writes and one long transaction commit concurrently,
    out of order, while a poller follows; returns the poller and the final table."""
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    poll_conn = await asyncpg.connect(plain(url))
    long_conn = await asyncpg.connect(plain(url))
    poller = make_poller(poll_conn)
    try:
        # A transaction that starts early and commits last (its updated_at is the earliest).
        # It writes another roll-up cell (2023, grant) than the batch: writers of one cell
        # queue on that cell's roll-up row until each commits (see README, Aggregates).
        long_tx = long_conn.transaction()
        await long_tx.start()
        await long_conn.execute(
            "INSERT INTO commitments (partner_id, external_ref, action_id, year, amount,"
            " instrument, version) VALUES ($1, 'LONG', $2, 2023, 1, 'grant', 1)",
            uuid.UUID(bdt),
            uuid.UUID(action),
        )
        writing = True
        lock = asyncio.Lock()  # one poll at a time, like one partner worker

        async def poll() -> None:
            async with lock:
                await poller.poll()

        async def follow() -> None:
            while writing:
                await poll()
                await asyncio.sleep(0.01)

        follower = asyncio.create_task(follow())
        batch = [_item(action, f"B-{i:05d}") for i in range(10_000)]
        big = asyncio.create_task(
            client.put(f"/v1/partners/{bdt}/commitments", json={"items": batch}, headers=admin)
        )
        await asyncio.sleep(0.05)
        gate = asyncio.Semaphore(6)

        async def single(i: int) -> httpx.Response:
            # 40 new commitments, and 20 updates of rows the batch is still writing.
            ref, amount = (f"S-{i}", "10.00") if i < 40 else (f"B-{i:05d}", "20.00")
            async with gate:
                return await client.put(
                    f"/v1/partners/{bdt}/commitments/{ref}",
                    json={
                        k: v for k, v in _item(action, ref, amount).items() if k != "external_ref"
                    },
                    headers=admin,
                )

        responses = await asyncio.gather(big, *(single(i) for i in range(60)))
        assert all(r.status_code in (200, 201) for r in responses), [
            r.text for r in responses if r.status_code >= 300
        ]
        await poll()  # later commits are visible; the long transaction is still open
        await long_tx.commit()
        writing = False
        await follower
        table = await _table(poll_conn)
        # Every transaction has committed: one more poll reaches the end of the feed (nothing
        # waits for transactions still running, on this database or another).
        await poller.poll()
        return poller, table
    finally:
        await poll_conn.close()
        await long_conn.close()


async def test_feed_misses_nothing_while_a_batch_and_single_writes_commit_out_of_order(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    poller, table = await _scenario(
        live_client, live_admin, database_url, lambda _conn: FeedPoller(live_client)
    )
    assert isinstance(poller, FeedPoller)
    assert len(table) == 10_000 + 40 + 1
    assert poller.seen == table  # no gap: every row, at its latest version
    assert len(poller.cursors) == len(set(poller.cursors))  # no change delivered twice
    assert len(poller.entries) == len(set(poller.entries))


async def test_same_scenario_with_an_updated_at_cursor_misses_rows(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    poller, table = await _scenario(live_client, live_admin, database_url, UpdatedAtPoller)
    missed = set(table) - set(poller.seen)
    assert missed, "the naive poller should have skipped the late-committing rows"


async def _follow(client: httpx.AsyncClient, cursor: str) -> list[Any]:
    """Every change after `cursor`, up to the end of the feed."""
    items: list[Any] = []
    while True:
        page = (await client.get("/v1/changes", params={"cursor": cursor})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items


async def test_feed_orders_create_update_delete_with_a_tombstone(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    start = await end_cursor(database_url)
    action = await make_action(live_client, live_admin)
    bdt = await partner_id(live_client, "BDT")
    url = f"/v1/partners/{bdt}/commitments/FEED-1"
    body = {k: v for k, v in _item(action["id"], "FEED-1").items() if k != "external_ref"}
    created = (await live_client.put(url, json=body, headers=live_admin)).json()
    await live_client.put(url, json=body | {"amount": "5.50"}, headers=live_admin)
    await live_client.put(url, json=body | {"amount": "5.50"}, headers=live_admin)  # no change
    deleted = await live_client.delete(f"/v1/commitments/{created['id']}", headers=live_admin)
    assert deleted.status_code == 204

    items = await _follow(live_client, start)  # committed: all there at once
    mine = [i for i in items if i["resource_id"] == created["id"]]
    assert [(i["op"], i["version"]) for i in mine] == [("create", 1), ("update", 2), ("delete", 2)]
    assert mine[1]["data"]["amount"] == "5.50"
    assert mine[2]["data"] is None
    assert action["id"] in {i["resource_id"] for i in items if i["resource"] == "actions"}
    resumed = await live_client.get("/v1/changes", params={"cursor": mine[0]["cursor"]})
    assert [i["cursor"] for i in resumed.json()["items"]][:2] == [
        mine[1]["cursor"],
        mine[2]["cursor"],
    ]


async def test_malformed_cursor_is_400_and_unknown_cursor_is_410(
    live_client: httpx.AsyncClient,
) -> None:
    assert_problem(await live_client.get("/v1/changes", params={"cursor": "%%%"}), 400)
    assert_problem(await live_client.get("/v1/changes", params={"cursor": "eyJ0IjoxfQ"}), 400)
    unknown = "eyJ0Ijo5OTk5OTk5OTksImkiOjk5OTk5OTk5OX0"  # {"t":999999999,"i":999999999}
    body = assert_problem(await live_client.get("/v1/changes", params={"cursor": unknown}), 410)
    assert body["reason"] == "CURSOR_EXPIRED"
    assert "resync" in body["detail"]
    assert_problem(await live_client.get("/v1/changes", params={"resource": "keys"}), 400)
    known_shape_unknown_position = encode_cursor([10**15, 1], FEED)
    body = assert_problem(
        await live_client.get("/v1/changes", params={"cursor": known_shape_unknown_position}), 410
    )
    assert body["reason"] == "CURSOR_EXPIRED"
    list_cursor = encode_cursor([1, 1], "another list")
    assert_problem(await live_client.get("/v1/changes", params={"cursor": list_cursor}), 400)


async def test_a_cursor_issued_before_the_commit_order_resumes_where_it_was(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    """Cursors were {"t": transaction id, "i": change id}; the transactions already logged got
    positions in that order, so such a cursor resumes after the same change."""
    start = await end_cursor(database_url)
    for _ in range(3):
        await make_action(live_client, live_admin)
    items = await _follow(live_client, start)
    assert len(items) == 3
    conn = await asyncpg.connect(plain(database_url))
    try:
        first = await conn.fetchrow(
            "SELECT txid, id FROM changes WHERE resource_id = $1",
            uuid.UUID(items[0]["resource_id"]),
        )
    finally:
        await conn.close()
    raw = json.dumps({"t": first["txid"], "i": first["id"]}).encode()
    legacy = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    resumed = (await live_client.get("/v1/changes", params={"cursor": legacy})).json()
    assert [i["cursor"] for i in resumed["items"]] == [i["cursor"] for i in items[1:]]
