"""Payment batch benchmark: 10,000-item batches through the API vs a raw asyncpg upsert.

    .venv/bin/python -m bench.payments        # or: make bench-payments

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL, and works in a
scratch database dropped at the end. Through the API (in process, ASGI, no network): each
batch is parsed, validated item by item, its commitments looked up by the partner's
references, every total checked against its bounds, upserted in one statement; the triggers
then move each commitment's disbursed_amount (and its roll-up) and capture the change log. The
raw baseline sends the same rows (commitment ids already known) with asyncpg as one INSERT ...
SELECT unnest(...) ON CONFLICT DO UPDATE, on another partner's commitments; the same triggers
fire for it. Rounds alternate API and raw, new payments then the same batch again (unchanged).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from app import migrations
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import DatabaseSettings, Settings
from app.db import create_engine, create_sessionmaker
from app.main import attach_database, create_app
from app.models.enums import Role
from app.programme.service import seed
from bench.common import load_average, raw_connection, server_url
from devtools.scratch import create_scratch_database, drop_database

BATCH = 10_000
ROUNDS = 3
COMMITMENTS = 1_000
GOAL = 20_000

RAW_UPSERT = """
INSERT INTO payments AS p (partner_id, external_ref, commitment_id, paid_on, amount, kind,
                           label, version)
SELECT $1, r.*, 1 FROM unnest($2::text[], $3::uuid[], $4::date[], $5::numeric[], $6::text[],
                              $7::text[])
  AS r(external_ref, commitment_id, paid_on, amount, kind, label)
ON CONFLICT (partner_id, external_ref) DO UPDATE
SET commitment_id = EXCLUDED.commitment_id, paid_on = EXCLUDED.paid_on,
    amount = EXCLUDED.amount, kind = EXCLUDED.kind, label = EXCLUDED.label,
    version = p.version + 1, updated_at = now()
WHERE (p.commitment_id, p.paid_on, p.amount, p.kind, p.label)
  IS DISTINCT FROM (EXCLUDED.commitment_id, EXCLUDED.paid_on, EXCLUDED.amount,
                    EXCLUDED.kind, EXCLUDED.label)
"""


def _items(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "external_ref": f"{prefix}-{i:05d}",
            "commitment_external_ref": f"C-{i % COMMITMENTS:04d}",
            "paid_on": f"{2024 + i % 3}-{1 + i % 12:02d}-15",
            "amount": f"{1 + i % 50}.25",
            "label": f"Versement {i}",
        }
        for i in range(BATCH)
    ]


async def _commitments(client: httpx.AsyncClient, partner: str, action_id: str) -> None:
    items = [
        {
            "external_ref": f"C-{i:04d}",
            "action_id": action_id,
            "year": 2024,
            "amount": "100000000.00",
            "instrument": "grant",
            "status": "committed",
        }
        for i in range(COMMITMENTS)
    ]
    response = await client.put(f"/v1/partners/{partner}/commitments", json={"items": items})
    assert response.status_code == 200, response.text


async def _api(client: httpx.AsyncClient, url: str, items: list[dict[str, Any]]) -> float:
    # The partner's JSON encoding is its own cost, not the service's: done before the clock.
    body = json.dumps({"items": items}).encode()
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    response = await client.put(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _raw(
    conn: asyncpg.Connection,
    partner: uuid.UUID,
    ids: dict[str, uuid.UUID],
    items: list[dict[str, Any]],
) -> float:
    columns = (
        [i["external_ref"] for i in items],
        [ids[i["commitment_external_ref"]] for i in items],
        [date.fromisoformat(i["paid_on"]) for i in items],
        [Decimal(i["amount"]) for i in items],
        ["disbursement"] * len(items),
        [i["label"] for i in items],
    )
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(RAW_UPSERT, partner, *columns)
    return time.perf_counter() - started


def _rate(seconds: list[float]) -> float:
    return BATCH * len(seconds) / sum(seconds)


async def main() -> None:
    server, _origin = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench_payments")
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        # A round trip may outlast the service's 5 s bound on a loaded machine: a batch slower
        # than that is a figure to print, not a 503.
        settings = Settings(
            database_url=url,  # type: ignore[arg-type]
            db=DatabaseSettings(command_timeout_seconds=120),
        )
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
            action = await client.post(
                "/v1/actions", json={"code": "BENCH", "chantier_id": chantier, "title": "Bench"}
            )
            action_id = action.json()["id"]
            await _commitments(client, bdt, action_id)
            await _commitments(client, amp, action_id)
            batch_url = f"/v1/partners/{bdt}/payments"
            # A served route is warm: its first request builds FastAPI's route state (~0.1 s).
            await _api(client, batch_url, [])
            conn = await raw_connection(url)
            try:
                rows = await conn.fetch(
                    "SELECT external_ref, id FROM commitments WHERE partner_id = $1",
                    uuid.UUID(amp),
                )
                ids = {r["external_ref"]: r["id"] for r in rows}
                api_created, api_unchanged, raw_created, raw_unchanged = [], [], [], []
                for n in range(ROUNDS):
                    items = _items(f"R{n}")
                    api_created.append(await _api(client, batch_url, items))
                    raw_created.append(await _raw(conn, uuid.UUID(amp), ids, items))
                    api_unchanged.append(await _api(client, batch_url, items))
                    raw_unchanged.append(await _raw(conn, uuid.UUID(amp), ids, items))
                drift = await conn.fetchval(
                    "SELECT count(*) FROM commitments c WHERE c.disbursed_amount <> coalesce("
                    "(SELECT sum(amount) FROM payments p WHERE p.commitment_id = c.id), 0)"
                )
                assert drift == 0, f"{drift} commitments whose total is not their payments' sum"
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
    print(f"payment batches, {ROUNDS} x {BATCH:,} items on {COMMITMENTS:,} commitments, {host}")
    print(f"load average (1, 5, 15 min): {load_average()}")
    print(f"{'':<10} {'API /s':>12} {'raw asyncpg /s':>16} {'API/raw':>8}")
    for label, api, raw in table:
        print(f"{label:<10} {api:>12,.0f} {raw:>16,.0f} {api / raw:>8.2f}")
    fast = min(row[1] for row in table) >= GOAL
    close = min(row[1] / row[2] for row in table) >= 0.5
    print(f"goal >= {GOAL:,} payments/s through the API: {'meets' if fast else 'misses'}")
    print(f"goal >= 0.5 x raw asyncpg: {'meets' if close else 'misses'}")


if __name__ == "__main__":
    asyncio.run(main())
