"""Indicator values benchmark: 10,000-item partner batches through the API vs a raw asyncpg
upsert of the same rows.

    .venv/bin/python -m bench.indicators        # or: make bench-indicators

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL, and works in a
scratch database dropped at the end. Through the API (in process, ASGI, no network): each
batch is parsed, validated item by item, its actions and indicators looked up by code in one
statement, upserted by the partner's references in one statement that also gives each record
touched its new version; the triggers refuse future dates and write one change-log entry per
record (its whole snapshot). The raw baseline sends the same rows (record ids already known)
with asyncpg as one INSERT ... SELECT unnest(...) ON CONFLICT DO UPDATE, on another indicator's
records and another partner's references; the date trigger fires for it, but no record
version and no change log. Rounds alternate API and raw: new values, then the same batch again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date, timedelta
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
from bench.common import server_url
from devtools.scratch import create_scratch_database, drop_database

BATCH = 10_000
ROUNDS = 3
ACTIONS = 1_000
GOAL = 20_000

RAW_UPSERT = """
INSERT INTO indicator_actuals AS x (partner_id, external_ref, action_indicator_id,
                                    measured_on, value)
SELECT $1, r.* FROM unnest($2::text[], $3::uuid[], $4::date[], $5::numeric[])
  AS r(external_ref, action_indicator_id, measured_on, value)
ON CONFLICT (partner_id, external_ref) DO UPDATE
SET action_indicator_id = EXCLUDED.action_indicator_id, measured_on = EXCLUDED.measured_on,
    value = EXCLUDED.value
WHERE (x.action_indicator_id, x.measured_on, x.value)
  IS DISTINCT FROM (EXCLUDED.action_indicator_id, EXCLUDED.measured_on, EXCLUDED.value)
"""

# The bench's actions and their records of both indicators, in two statements.
SETUP = (
    """
INSERT INTO actions (code, chantier_id, title, version)
SELECT 'BENCH-' || lpad(n::text, 4, '0'), $1, 'Bench', 1 FROM generate_series(0, $2 - 1) n
""",
    """
INSERT INTO action_indicators (action_id, indicator_id, programme_id, unit, version)
SELECT a.id, i.id, a.programme_id, i.unit, 1
FROM actions a CROSS JOIN indicators i WHERE a.code LIKE 'BENCH-%'
""",
)


def _items(indicator_code: str, prefix: str) -> list[dict[str, Any]]:
    start = date(2021, 1, 1)
    return [
        {
            "external_ref": f"{prefix}-{i:05d}",
            "action_code": f"BENCH-{i % ACTIONS:04d}",
            "indicator_code": indicator_code,
            "on": (start + timedelta(days=i // ACTIONS)).isoformat(),
            "value": f"{i % 977}.5",
        }
        for i in range(BATCH)
    ]


async def _api(client: httpx.AsyncClient, url: str, items: list[dict[str, Any]]) -> float:
    body = json.dumps({"items": items}).encode()  # the partner's encoding: not the service's
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    response = await client.put(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _raw(
    conn: asyncpg.Connection,
    partner: uuid.UUID,
    records: dict[str, uuid.UUID],
    items: list[dict[str, Any]],
) -> float:
    columns = (
        [i["external_ref"] for i in items],
        [records[i["action_code"]] for i in items],
        [date.fromisoformat(i["on"]) for i in items],
        [Decimal(i["value"]) for i in items],
    )
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(RAW_UPSERT, partner, *columns)
    return time.perf_counter() - started


def _rate(seconds: list[float]) -> float:
    return BATCH * len(seconds) / sum(seconds)


async def main() -> None:
    server, _origin = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench_indicators")
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
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=120
            ) as client,
        ):
            partners = (await client.get("/v1/partners")).json()["items"]
            bdt = next(p["id"] for p in partners if p["code"] == "BDT")
            amp = next(p["id"] for p in partners if p["code"] == "AMP")
            chantier = (await client.get("/v1/chantiers")).json()["items"][0]["id"]
            for code in ("BENCH_API", "BENCH_RAW"):
                body = {"code": code, "name": code, "unit": "km", "aggregation": "sum"}
                assert (await client.post("/v1/indicators", json=body)).status_code == 201
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(SETUP[0], uuid.UUID(chantier), ACTIONS)
                await conn.execute(SETUP[1])
                rows = await conn.fetch(
                    "SELECT a.code, r.id FROM action_indicators r JOIN actions a"
                    " ON a.id = r.action_id JOIN indicators i ON i.id = r.indicator_id"
                    " WHERE i.code = 'BENCH_RAW'"
                )
                records = {r["code"]: r["id"] for r in rows}
                batch_url = f"/v1/partners/{bdt}/indicator-values"
                api_created, api_unchanged, raw_created, raw_unchanged = [], [], [], []
                for n in range(ROUNDS):
                    items = _items("BENCH_API", f"R{n}")
                    api_created.append(await _api(client, batch_url, items))
                    raw_created.append(await _raw(conn, uuid.UUID(amp), records, items))
                    api_unchanged.append(await _api(client, batch_url, items))
                    raw_unchanged.append(await _raw(conn, uuid.UUID(amp), records, items))
                stored = await conn.fetchval("SELECT count(*) FROM indicator_actuals")
                assert stored == 2 * ROUNDS * BATCH, stored
                logged = await conn.fetchval(
                    "SELECT count(*) FROM changes"
                    " WHERE resource = 'action_indicators' AND op = 'update'"
                )
                assert logged == ROUNDS * ACTIONS, logged  # one entry per record per batch
            finally:
                await conn.close()
        await engine.dispose()
    finally:
        await drop_database(url)

    table = [
        ("created", _rate(api_created), _rate(raw_created)),
        ("unchanged", _rate(api_unchanged), _rate(raw_unchanged)),
    ]
    host = server.split("@")[-1]
    print(f"indicator values, {ROUNDS} x {BATCH:,} items on {ACTIONS:,} records, {host}")
    print(f"{'':<10} {'API /s':>12} {'raw asyncpg /s':>16} {'API/raw':>8}")
    for label, api, raw in table:
        print(f"{label:<10} {api:>12,.0f} {raw:>16,.0f} {api / raw:>8.2f}")
    fast = min(row[1] for row in table) >= GOAL
    print(f"goal >= {GOAL:,} values/s through the API: {'meets' if fast else 'misses'}")


if __name__ == "__main__":
    asyncio.run(main())
