"""The change feed is in commit order: a transaction that started first but committed last is
listed after the ones that committed before it, so a consumer replaying the feed ends with the
table's state (per resource, its last entry is its current version).

No timing is involved: the interleavings are forced with row locks (the first test) or run
step by step from a seeded schedule on several connections (the second).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from tests.changes.feed import end_cursor
from tests.database import plain
from tests.factories import make_action, partner_id


class Replica:
    """A partner's copy of the commitments, kept by applying /v1/changes in order."""

    def __init__(
        self, client: httpx.AsyncClient, rows: dict[str, tuple[int, str]], cursor: str
    ) -> None:
        """`rows` read from the table when `cursor` was the end of the feed (no writer running
        then), as a partner resyncs from the lists."""
        self.client = client
        self.rows = dict(rows)  # id -> (version, amount)
        self.cursor = cursor
        self.entries: list[tuple[str, int, str]] = []  # (id, version, op) in feed order
        self.cursors: list[str] = []

    async def poll(self) -> None:
        while True:
            params: dict[str, Any] = {
                "resource": "commitments",
                "limit": 1000,
                "cursor": self.cursor,
            }
            response = await self.client.get("/v1/changes", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            for item in page["items"]:
                self.apply(item)
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    def apply(self, item: dict[str, Any]) -> None:
        rid, version, op = item["resource_id"], item["version"], item["op"]
        self.cursors.append(item["cursor"])
        self.entries.append((rid, version, op))
        known = self.rows.get(rid)
        if op == "create":
            assert known is None, f"{rid} created twice"
        else:
            assert known is not None, f"{op} of {rid} before its creation"
            # A later version never comes before an earlier one: commit order.
            assert version >= known[0] + (op == "update"), (rid, known[0], version, op)
        if op == "delete":
            self.rows.pop(rid)
        else:
            self.rows[rid] = (version, item["data"]["amount"])


async def _table(conn: asyncpg.Connection) -> dict[str, tuple[int, str]]:
    rows = await conn.fetch("SELECT id, version, amount::text AS amount FROM commitments")
    return {str(r["id"]): (r["version"], r["amount"]) for r in rows}


def _put_body(action_id: str, amount: str) -> dict[str, Any]:
    return {"action_id": action_id, "year": 2024, "amount": amount, "instrument": "loan"}


async def _wait_until_blocked_by(conn: asyncpg.Connection, blocker_pid: int) -> None:
    """Until a backend waits for `blocker_pid`'s transaction (a lock, not a clock)."""
    for _ in range(6000):
        blocked = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            blocker_pid,
        )
        if blocked:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the batch never reached the locked reference")


async def test_a_patch_that_commits_before_a_longer_batch_is_listed_first(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    """The issue's reproduction: a 10,000-item batch writes R last; an editor's PATCH of R
    starts after the batch's first write and commits first. Ordered by transaction id, the feed
    listed R version 3 (the batch) before version 2 (the PATCH)."""
    action = (await make_action(live_client, live_admin))["id"]
    bdt = await partner_id(live_client, "BDT")
    refs = [f"CO-{i:05d}" for i in range(10_000)]
    r_ref, blocked_ref = refs[-1], refs[5_000]
    url = f"/v1/partners/{bdt}/commitments/{r_ref}"
    created = await live_client.put(url, json=_put_body(action, "10.00"), headers=live_admin)
    assert created.status_code == 201, created.text
    r_id = created.json()["id"]

    watch = await asyncpg.connect(plain(database_url))
    blocker = await asyncpg.connect(plain(database_url))
    try:
        replica = Replica(live_client, await _table(watch), await end_cursor(database_url))
        # An uncommitted row holding the batch's 5,001st reference (another roll-up cell than
        # R's): the batch writes 5,000 rows, so it has its transaction id, then waits here.
        await blocker.execute("BEGIN")
        await blocker.execute(
            "INSERT INTO commitments (partner_id, external_ref, action_id, year, amount,"
            " instrument, version) VALUES ($1, $2, $3, 2023, 1, 'grant', 1)",
            uuid.UUID(bdt),
            blocked_ref,
            uuid.UUID(action),
        )
        items = [{"external_ref": ref, **_put_body(action, "30.00")} for ref in refs]
        batch = asyncio.create_task(
            live_client.put(
                f"/v1/partners/{bdt}/commitments", json={"items": items}, headers=live_admin
            )
        )
        await _wait_until_blocked_by(watch, blocker.get_server_pid())
        patched = await live_client.patch(
            f"/v1/commitments/{r_id}", json={"amount": "20.00"}, headers=live_admin
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["etag"].endswith('-2"')
        await blocker.execute("ROLLBACK")
        answer = await batch
        assert answer.status_code == 200, answer.text
        assert answer.json()["updated"] == 1  # R, on top of the PATCH: version 3

        await replica.poll()
        table = await _table(watch)
    finally:
        await watch.close()
        await blocker.close()

    assert table[r_id] == (3, "30.00")
    assert [(v, op) for rid, v, op in replica.entries if rid == r_id] == [
        (2, "update"),
        (3, "update"),
    ]
    assert replica.rows == table
    assert len(replica.cursors) == len(set(replica.cursors))


@dataclass
class Writer:
    """One connection of the schedule and its open transaction, if any."""

    conn: asyncpg.Connection
    open: bool = False
    has_id: bool = False  # its transaction has written, so PostgreSQL gave it an id
    started: int = 0  # the order of that first write among all transactions
    touched: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


async def _run_schedule(
    seed: int,
    client: httpx.AsyncClient,
    url: str,
    action: str,
    partner: str,
    steps: int = 160,
) -> tuple[Replica, dict[str, tuple[int, str]], int]:
    """Random transactions on four connections, one step at a time: begin with a first write,
    write again, commit, roll back, or let the replica poll the feed. Each commitment lives in
    its own roll-up cell and a row is written only by the transaction that holds it, so no step
    ever waits for a lock. Returns the replica, the final table and how many times a
    transaction that started earlier wrote a row after a later one had committed it."""
    rng = random.Random(seed)
    cells = [(year, instrument) for year in range(2020, 2027) for instrument in _INSTRUMENTS]
    rng.shuffle(cells)
    watch = await asyncpg.connect(plain(url))
    writers = [Writer(await asyncpg.connect(plain(url))) for _ in range(4)]
    for writer in writers:
        await writer.conn.execute("SET lock_timeout = '10s'")
    try:
        live: set[str] = set()
        made: dict[str, int] = {}  # row -> its rank of creation: ids are random, ranks are not
        last_writer: dict[str, int] = {}  # row -> `started` of the transaction that committed it
        inversions = 0
        for year, instrument in cells[:8]:
            row = await _insert(watch, partner, action, year, instrument)
            live.add(row)
            made[row] = len(made)
        free_cells = cells[8:]
        replica = Replica(client, await _table(watch), await end_cursor(url))
        ids_given = 0

        def writable(writer: Writer) -> list[str]:
            """Rows no other open transaction holds: writing them never waits."""
            held = set().union(
                *(w.touched | w.created for w in writers if w.open and w is not writer)
            )
            own = writer.touched | writer.created
            return sorted(((live - held) | own) - writer.deleted, key=made.__getitem__)

        async def write(writer: Writer) -> None:
            nonlocal inversions, ids_given
            free = writable(writer)
            choice = rng.random()
            creating = (choice < 0.15 or not free) and bool(free_cells)
            if not creating and not free:
                return
            if not writer.has_id:
                writer.has_id, writer.started = True, ids_given
                ids_given += 1
            if creating:
                year, instrument = free_cells.pop()
                row = await _insert(writer.conn, partner, action, year, instrument)
                writer.created.add(row)
                made[row] = len(made)
                return
            row = rng.choice(free)
            if row in last_writer and last_writer[row] > writer.started:
                inversions += 1
            writer.touched.add(row)
            if choice < 0.25 and row not in writer.created:
                await writer.conn.execute("DELETE FROM commitments WHERE id = $1", uuid.UUID(row))
                writer.deleted.add(row)
            else:
                await writer.conn.execute(
                    "UPDATE commitments SET amount = amount + 1, version = version + 1,"
                    " updated_at = now() WHERE id = $1",
                    uuid.UUID(row),
                )

        async def end(writer: Writer, commit: bool) -> None:
            await writer.conn.execute("COMMIT" if commit else "ROLLBACK")
            if commit:
                live.update(writer.created)
                live.difference_update(writer.deleted)
                for row in writer.touched | writer.created:
                    last_writer[row] = writer.started
            writer.open = writer.has_id = False
            writer.touched, writer.created, writer.deleted = set(), set(), set()

        for _ in range(steps):
            writer = rng.choice(writers)
            roll = rng.random()
            if roll < 0.15:
                await replica.poll()
            elif not writer.open:
                await writer.conn.execute("BEGIN")
                writer.open = True
                await write(writer)  # the first write: the transaction gets its id now
            elif roll < 0.6:
                await write(writer)
            else:
                await end(writer, commit=roll < 0.92)
        for writer in writers:
            if writer.open:
                await end(writer, commit=True)
        await replica.poll()
        return replica, await _table(watch), inversions
    finally:
        await watch.close()
        for writer in writers:
            await writer.conn.close()


_INSTRUMENTS = ("grant", "loan", "equity", "guarantee", "own_funds", "engineering")


async def _insert(
    conn: asyncpg.Connection, partner: str, action: str, year: int, instrument: str
) -> str:
    row_id = await conn.fetchval(
        "INSERT INTO commitments (partner_id, external_ref, action_id, year, amount, instrument,"
        " version) VALUES ($1, $2, $3, $4, 100, $5, 1) RETURNING id",
        uuid.UUID(partner),
        f"RND-{uuid.uuid4().hex[:12]}",
        uuid.UUID(action),
        year,
        instrument,
    )
    return str(row_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_interleavings_replay_to_exactly_the_table(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str, seed: int
) -> None:
    action = (await make_action(live_client, live_admin))["id"]
    amp = await partner_id(live_client, "AMP")
    replica, table, inversions = await _run_schedule(seed, live_client, database_url, action, amp)
    # The schedule made the case the old order got wrong, several times over.
    assert inversions >= 3
    assert replica.rows == table
    assert len(replica.cursors) == len(set(replica.cursors))
