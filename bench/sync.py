"""Partner sync benchmark: 10,000-item batches through the API vs a raw asyncpg upsert.

    .venv/bin/python -m bench.sync            # or: make bench-sync

Then the cost of the schedules (app/models/sql/schedules.sql: every new commitment's line and
version 1): created batches through the API with the schedule triggers and without them,
alternated in the same database, and their ratio.

Then 8 connections commit single-row UPDATEs at once (each row in its own roll-up cell), the
case where the change feed's commit order costs most: every change-producing commit takes
one lock while it commits (app/models/sql/change_commits.sql).

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL, and works in a
scratch database dropped at the end. Through the API (in process, ASGI, no network): each
batch is parsed, validated item by item, checked against the actions, upserted in one
statement and captured by the change-log triggers. The raw baseline sends the same rows
with asyncpg as one INSERT ... SELECT unnest(...) ON CONFLICT DO UPDATE (the triggers fire
for it too, as for any write to the table).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from app import migrations
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import attach_database, create_app
from app.models.enums import Role
from app.programme.service import seed
from bench.common import raw_connection, server_url
from devtools.scratch import create_scratch_database, drop_database

BATCH = 10_000
ROUNDS = 3
WRITERS = 8
COMMITS_EACH = 250

RAW_UPSERT = """
INSERT INTO commitments AS c (partner_id, external_ref, action_id, year, amount,
                              disbursed_amount, instrument, status, label, version)
SELECT $1, r.*, 1 FROM unnest($2::text[], $3::uuid[], $4::int[], $5::numeric[], $6::numeric[],
                              $7::text[], $8::text[], $9::text[])
  AS r(external_ref, action_id, year, amount, disbursed_amount, instrument, status, label)
ON CONFLICT (partner_id, external_ref) DO UPDATE
SET action_id = EXCLUDED.action_id, year = EXCLUDED.year, amount = EXCLUDED.amount,
    disbursed_amount = EXCLUDED.disbursed_amount, instrument = EXCLUDED.instrument,
    status = EXCLUDED.status, label = EXCLUDED.label, version = c.version + 1,
    updated_at = now()
WHERE (c.action_id, c.year, c.amount, c.disbursed_amount, c.instrument, c.status, c.label)
  IS DISTINCT FROM (EXCLUDED.action_id, EXCLUDED.year, EXCLUDED.amount,
                    EXCLUDED.disbursed_amount, EXCLUDED.instrument, EXCLUDED.status,
                    EXCLUDED.label)
"""


def _items(action_id: str, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "external_ref": f"{prefix}-{i:05d}",
            "action_id": action_id,
            "year": 2020 + i % 7,
            "amount": f"{1000 + i}.50",
            "disbursed_amount": "100.00",
            "instrument": "loan",
            "status": "committed",
            "label": f"Tranche {i}",
        }
        for i in range(BATCH)
    ]


async def _api(client: httpx.AsyncClient, url: str, items: list[dict[str, Any]]) -> float:
    # The partner's JSON encoding is its own cost, not the service's: done before the clock.
    body = json.dumps({"items": items}).encode()
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    response = await client.put(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _raw(conn: asyncpg.Connection, partner: uuid.UUID, items: list[dict[str, Any]]) -> float:
    columns = (
        [i["external_ref"] for i in items],
        [uuid.UUID(i["action_id"]) for i in items],
        [i["year"] for i in items],
        [Decimal(i["amount"]) for i in items],
        [Decimal(i["disbursed_amount"]) for i in items],
        [i["instrument"] for i in items],
        [i["status"] for i in items],
        [i["label"] for i in items],
    )
    started = time.perf_counter()
    await conn.execute(RAW_UPSERT, partner, *columns)
    return time.perf_counter() - started


async def _commits(url: str, rows: list[uuid.UUID]) -> float:
    """Commits per second: one single-row UPDATE per transaction, WRITERS connections at once."""
    conns = [await asyncpg.connect(url) for _ in rows]

    async def write(conn: asyncpg.Connection, row: uuid.UUID) -> None:
        for _ in range(COMMITS_EACH):
            await conn.execute(
                "UPDATE commitments SET amount = amount + 1, version = version + 1,"
                " updated_at = now() WHERE id = $1",
                row,
            )

    try:
        started = time.perf_counter()
        await asyncio.gather(*(write(conn, row) for conn, row in zip(conns, rows, strict=True)))
        return len(rows) * COMMITS_EACH / (time.perf_counter() - started)
    finally:
        for conn in conns:
            await conn.close()


# The schedule triggers a commitment's insert and update fire (app/models/sql/schedules.sql).
SCHEDULE_TRIGGERS = (
    "commitments_schedule_default",
    "commitments_schedule_follow",
    "commitments_schedule_check",
)


async def _schedules_cost(
    client: httpx.AsyncClient, conn: asyncpg.Connection, url: str, action_id: str
) -> tuple[list[float], list[float]]:
    """Created batches with the schedule triggers and without, alternated (the machine's load
    drifts alike for both); the triggers are enabled again at the end."""
    with_schedules, without = [], []
    for n in range(ROUNDS):
        with_schedules.append(await _api(client, url, _items(action_id, f"S{n}")))
        for trigger in SCHEDULE_TRIGGERS:
            await conn.execute(f"ALTER TABLE commitments DISABLE TRIGGER {trigger}")
        try:
            without.append(await _api(client, url, _items(action_id, f"N{n}")))
        finally:
            for trigger in SCHEDULE_TRIGGERS:
                await conn.execute(f"ALTER TABLE commitments ENABLE TRIGGER {trigger}")
        # Commitments without a schedule break the rule that every one has a line: gone, so
        # that the writes after this (and their check at commit) meet none.
        await conn.execute("DELETE FROM commitments WHERE external_ref LIKE $1", f"N{n}-%")
    return with_schedules, without


def _rate(seconds: list[float]) -> float:
    return BATCH * len(seconds) / sum(seconds)


async def main() -> None:
    server, _origin = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench")
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        settings = Settings(database_url=url)  # type: ignore[arg-type]
        engine = create_engine(settings)
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
            _, token = await create_key(
                ApiKeyRepository(session), name="bench", role=Role.admin, partner_id=None
            )
        app = create_app(settings)
        attach_database(app, engine)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        # The lifespan runs as under uvicorn (ASGITransport alone would skip it).
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=120
            ) as client,
        ):
            partners = (await client.get("/v1/partners")).json()["items"]
            bdt = next(p["id"] for p in partners if p["code"] == "BDT")
            amp = uuid.UUID(next(p["id"] for p in partners if p["code"] == "AMP"))
            chantier = (await client.get("/v1/chantiers")).json()["items"][0]["id"]
            action = await client.post(
                "/v1/actions", json={"code": "BENCH", "chantier_id": chantier, "title": "Bench"}
            )
            action_id = action.json()["id"]
            batch_url = f"/v1/partners/{bdt}/commitments"
            # A served route is warm: its first request builds FastAPI's route state (~0.1 s).
            await _api(client, batch_url, [])
            conn = await raw_connection(url)
            try:
                api_created, api_unchanged, raw_created, raw_unchanged = [], [], [], []
                for n in range(ROUNDS):
                    items = _items(action_id, f"R{n}")
                    api_created.append(await _api(client, batch_url, items))
                    api_unchanged.append(await _api(client, batch_url, items))
                    raw_created.append(await _raw(conn, amp, items))
                    raw_unchanged.append(await _raw(conn, amp, items))
                scheduled, unscheduled = await _schedules_cost(client, conn, batch_url, action_id)
                # One commitment per (partner, year) cell: writers never queue on a roll-up row.
                rows = await conn.fetch(
                    "SELECT DISTINCT ON (partner_id, year) id FROM commitments"
                    " ORDER BY partner_id, year, id"
                )
                commits = await _commits(url, [r["id"] for r in rows][:WRITERS])
            finally:
                await conn.close()
        await engine.dispose()
    finally:
        await drop_database(url)

    rows = [
        ("created", _rate(api_created), _rate(raw_created)),
        ("unchanged", _rate(api_unchanged), _rate(raw_unchanged)),
    ]
    print(f"partner sync, {ROUNDS} x {BATCH:,}-item batches, PostgreSQL at {server.split('@')[-1]}")
    print(f"{'':<10} {'API /s':>12} {'raw asyncpg /s':>16} {'API/raw':>8}")
    for label, api, raw in rows:
        print(f"{label:<10} {api:>12,.0f} {raw:>16,.0f} {api / raw:>8.2f}")
    print(
        f"{'schedules':<10} {_rate(scheduled):>12,.0f} /s created with them, "
        f"{_rate(unscheduled):>8,.0f} /s without: "
        f"{_rate(scheduled) / _rate(unscheduled):.2f} (goal >= 0.67)"
    )
    print(f"{WRITERS} writers committing single-row updates at once: {commits:,.0f} commits/s")
    goal = 20_000
    verdict = "meets" if min(r[1] for r in rows) >= goal else "misses"
    print(f"goal >= {goal:,} commitments/s through the API: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
