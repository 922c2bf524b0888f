"""Reference-data batches: 10,000 actions through PUT /v1/actions vs a raw asyncpg upsert of
the same rows, in the same run, alternated; then 10,000 partners through PUT /v1/partners.

    .venv/bin/python -m bench.reference       # part of: make bench-sync

Created batches (new codes each round) and unchanged ones (the same batch again). Through the
API (in process, ASGI, no network): each batch is parsed, validated item by item, its chantiers,
lead partners and communes checked in one statement each, its stored rows looked up, then
upserted in one statement and captured by the change-log triggers. The raw baseline sends the
same rows with asyncpg as one INSERT ... SELECT unnest(...) ON CONFLICT (code) DO UPDATE (the
triggers fire for it too). Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded
PostgreSQL, in a scratch database dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
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
from bench.common import raw_connection, server_url
from devtools.scratch import create_scratch_database, drop_database

BATCH = 10_000
ROUNDS = 3
COMMUNES = ["13055", "13001", "13103", "13117"]

RAW_ACTIONS = """
INSERT INTO actions AS a (code, chantier_id, title, description, status, progress, weight,
                          start_date, end_date, communes, lead_partner_id, external_id, version)
SELECT r.code, r.chantier_id, r.title, r.description, r.status, r.progress, r.weight,
       r.start_date, r.end_date, string_to_array(r.communes, ',')::varchar(5)[],
       r.lead_partner_id, r.external_id, 1
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[],
            $8::date[], $9::date[], $10::text[], $11::uuid[], $12::text[])
  AS r(code, chantier_id, title, description, status, progress, weight, start_date, end_date,
       communes, lead_partner_id, external_id)
ON CONFLICT (code) DO UPDATE
SET chantier_id = EXCLUDED.chantier_id, title = EXCLUDED.title,
    description = EXCLUDED.description, status = EXCLUDED.status,
    progress = EXCLUDED.progress, weight = EXCLUDED.weight, start_date = EXCLUDED.start_date,
    end_date = EXCLUDED.end_date, communes = EXCLUDED.communes,
    lead_partner_id = EXCLUDED.lead_partner_id, external_id = EXCLUDED.external_id,
    version = a.version + 1, updated_at = now()
WHERE (a.chantier_id, a.title, a.description, a.status, a.progress, a.weight, a.start_date,
       a.end_date, a.communes, a.lead_partner_id, a.external_id)
  IS DISTINCT FROM (EXCLUDED.chantier_id, EXCLUDED.title, EXCLUDED.description,
       EXCLUDED.status, EXCLUDED.progress, EXCLUDED.weight, EXCLUDED.start_date,
       EXCLUDED.end_date, EXCLUDED.communes, EXCLUDED.lead_partner_id, EXCLUDED.external_id)
"""


def _actions(prefix: str, chantiers: list[str], lead: str) -> list[dict[str, Any]]:
    return [
        {
            "code": f"{prefix}-{i:05d}",
            "chantier_id": chantiers[i % len(chantiers)],
            "title": f"Projet {i} : rénovation de l'école",
            "description": "Dotation de soutien à l'investissement local",
            "status": "in_progress",
            "progress": i % 101,
            "weight": 1 + i % 5,
            "start_date": "2021-03-01",
            "end_date": "2024-12-31",
            "communes": COMMUNES[: 1 + i % 3],
            "lead_partner_id": lead,
            "external_id": f"{prefix}-DSIL-{i:05d}",
        }
        for i in range(BATCH)
    ]


def _raw_columns(items: list[dict[str, Any]]) -> list[list[Any]]:
    def column(name: str, convert: Any = None) -> list[Any]:
        return [i[name] if convert is None else convert(i[name]) for i in items]

    day = date.fromisoformat
    return [
        column("code"),
        column("chantier_id", uuid.UUID),
        column("title"),
        column("description"),
        column("status"),
        column("progress"),
        column("weight"),
        column("start_date", day),
        column("end_date", day),
        column("communes", ",".join),
        column("lead_partner_id", uuid.UUID),
        column("external_id"),
    ]


async def _api(client: httpx.AsyncClient, url: str, items: list[dict[str, Any]]) -> float:
    body = json.dumps({"items": items}).encode()  # the sender's encoding: before the clock
    started = time.perf_counter()
    response = await client.put(url, content=body, headers={"Content-Type": "application/json"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _raw(conn: asyncpg.Connection, items: list[dict[str, Any]]) -> float:
    columns = _raw_columns(items)  # asyncpg's own encoding of the arrays is on the clock
    started = time.perf_counter()
    await conn.execute(RAW_ACTIONS, *columns)
    return time.perf_counter() - started


def _rate(seconds: list[float]) -> float:
    return BATCH * len(seconds) / sum(seconds)


@asynccontextmanager
async def _service() -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """The app in process on a seeded scratch database, an admin's client, its URL, and the
    server's address."""
    server, _origin = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench")
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        # A 10,000-item batch is one statement: on a loaded machine it may outlast the default
        # 5 s bound on a round trip, which would measure the bound, not the batch.
        bounds = DatabaseSettings(command_timeout_seconds=120, statement_timeout_ms=120_000)
        settings = Settings(database_url=url, db=bounds)  # type: ignore[arg-type]
        engine = create_engine(settings)
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
            _, token = await create_key(
                ApiKeyRepository(session), name="bench", role=Role.admin, partner_id=None
            )
        app = create_app(settings)
        attach_database(app, engine)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers=headers,
                timeout=300,
            ) as client,
        ):
            yield client, url, server
        await engine.dispose()
    finally:
        await drop_database(url)


async def main() -> None:
    async with _service() as (client, url, server):
        chantiers = [c["id"] for c in (await client.get("/v1/chantiers")).json()["items"]]
        partners = (await client.get("/v1/partners")).json()["items"]
        amp = next(p["id"] for p in partners if p["code"] == "AMP")
        # A served route is warm: its first request builds FastAPI's route state (~0.1 s).
        await _api(client, "/v1/actions", [])
        await _api(client, "/v1/partners", [])
        conn = await raw_connection(url)
        api_created, api_unchanged, raw_created, raw_unchanged = [], [], [], []
        partners_created, partners_unchanged = [], []
        try:
            for n in range(ROUNDS):  # alternated: the machine's load drifts alike for both
                items = _actions(f"A{n}", chantiers, amp)
                api_created.append(await _api(client, "/v1/actions", items))
                api_unchanged.append(await _api(client, "/v1/actions", items))
                raw = _actions(f"R{n}", chantiers, amp)
                raw_created.append(await _raw(conn, raw))
                raw_unchanged.append(await _raw(conn, raw))
                people = [
                    {"code": f"P{n}_{i:05d}", "name": f"Commune {i}", "kind": "commune"}
                    for i in range(BATCH)
                ]
                partners_created.append(await _api(client, "/v1/partners", people))
                partners_unchanged.append(await _api(client, "/v1/partners", people))
        finally:
            await conn.close()

    print(
        f"reference data, {ROUNDS} x {BATCH:,}-item batches, PostgreSQL at {server.split('@')[-1]}"
    )
    print(f"{'actions':<10} {'API /s':>12} {'raw asyncpg /s':>16} {'API/raw':>8}")
    for label, api, raw_rate in (
        ("created", _rate(api_created), _rate(raw_created)),
        ("unchanged", _rate(api_unchanged), _rate(raw_unchanged)),
    ):
        print(f"{label:<10} {api:>12,.0f} {raw_rate:>16,.0f} {api / raw_rate:>8.2f}")
    print(
        f"partners   {_rate(partners_created):>12,.0f} /s created, "
        f"{_rate(partners_unchanged):,.0f} /s unchanged (through the API)"
    )
    slowest = min(_rate(api_created), _rate(api_unchanged))
    ratio = min(
        _rate(api_created) / _rate(raw_created), _rate(api_unchanged) / _rate(raw_unchanged)
    )
    verdict = "meets" if slowest >= 5_000 and ratio >= 0.5 else "misses"
    print(f"goal >= 5,000 actions/s and >= 0.5x the raw upsert: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
