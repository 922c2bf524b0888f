"""Aggregates benchmark: load N commitments, then time the aggregate endpoints over HTTP next to
the raw SQL GROUP BY over the same table, and the write cost of the roll-up triggers.

Two programmes: the seed's (2020–2026) and a second one (2023–2027) with three chantiers of
its own; actions are spread over both programmes' chantiers, and each commitment's year lies
in its own programme's period.

    .venv/bin/python -m bench.aggregates [--n 100000 --n 1000000] [--requests 200]

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL; every N gets
its own scratch database, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.programme.service import seed
from bench.aggregates_floor import baselines
from bench.common import server_url
from devtools.scratch import create_scratch_database, drop_database, plain

PARTNERS = 20  # the seed's AMP and BDT, and 18 more of every kind
COMMITMENTS_PER_ACTION = 20
KINDS = "'metropole','commune','department','region','state','public_bank','eu','private','other'"
INSTRUMENTS = "'grant','loan','equity','guarantee','own_funds','engineering'"
COMMUNES = "'13055','13001','13056','13005','13028','13047','13103','13117','13054','13041'"

# Commitment rows for generate_series(:first, :last) AS i, spread over actions and partners,
# each year inside the period of its action's programme.
ROWS = f"""
SELECT a.ids[1 + i % cardinality(a.ids)], p.ids[1 + (i * 7) % cardinality(p.ids)],
       a.starts[1 + i % cardinality(a.ids)] + i % a.spans[1 + i % cardinality(a.ids)], amount,
       CASE WHEN i % 10 >= 4 THEN round(amount * (i % 101) / 100, 2) ELSE 0 END,
       (ARRAY[{INSTRUMENTS}])[1 + i % 6],
       CASE WHEN i % 10 = 0 THEN 'cancelled' WHEN i % 10 < 4 THEN 'planned' ELSE 'committed' END,
       1
FROM generate_series($1::int, $2::int) AS i
CROSS JOIN LATERAL (SELECT ((i::bigint * 7919) % 50000000 + 100)::numeric / 100 AS amount) m,
     (SELECT array_agg(a.id ORDER BY a.code) AS ids,
             array_agg(g.start_year ORDER BY a.code) AS starts,
             array_agg(g.end_year - g.start_year + 1 ORDER BY a.code) AS spans
      FROM actions a JOIN programmes g ON g.id = a.programme_id) a,
     (SELECT array_agg(id ORDER BY code) AS ids FROM partners) p
"""
INSERT = (
    "INSERT INTO commitments (action_id, partner_id, year, amount, disbursed_amount,"
    " instrument, status, version) " + ROWS
)
RAW_SQL = {
    "GROUP BY chantier, year (join actions)": """
        SELECT a.chantier_id, c.year,
               sum(c.amount) FILTER (WHERE c.status = 'planned'),
               sum(c.amount) FILTER (WHERE c.status = 'committed'),
               sum(c.disbursed_amount) FILTER (WHERE c.status = 'committed'), count(*)
        FROM commitments c JOIN actions a ON a.id = c.action_id GROUP BY 1, 2""",
    "GROUP BY programme, partner, year": """
        SELECT programme_id, partner_id, year,
               sum(amount) FILTER (WHERE status = 'planned'),
               sum(amount) FILTER (WHERE status = 'committed'),
               sum(disbursed_amount) FILTER (WHERE status = 'committed'), count(*)
        FROM commitments GROUP BY 1, 2, 3""",
    "GROUP BY year, status": """
        SELECT year, status, sum(amount), sum(disbursed_amount), count(*)
        FROM commitments GROUP BY 1, 2""",
}
ENDPOINTS = [
    "/v1/aggregates/commitments",
    "/v1/aggregates/commitments?drilldown=chantier",
    "/v1/aggregates/commitments?drilldown=priority,year",
    "/v1/aggregates/commitments?drilldown=partner_kind,status&year=2024",
    "/v1/aggregates/commitments?drilldown=partner,instrument&priority=TRANSITION&year_from=2022",
    "/v1/aggregates/commitments?drilldown=chantier,partner,year,status,instrument&page_size=10000",
    "/v1/aggregates/commitments?drilldown=programme,partner,year",
    "/v1/aggregates/commitments?drilldown=chantier,year&programme=BENCH-2023-2027",
    "/v1/summary",
    "/v1/programmes/{programme}/summary",
    "/v1/chantiers/{chantier}/progress",
    # the territorial roll-up: one level, one territory at most in the filter
    "/v1/aggregates/commitments?drilldown=commune&year=2024",
    "/v1/aggregates/commitments?drilldown=epci,year",
    "/v1/aggregates/commitments?drilldown=departement,status&programme=BENCH-2023-2027",
    "/v1/aggregates/commitments?drilldown=chantier,year&commune=13055",
]
SECOND_PROGRAMME = """
WITH p AS (
  INSERT INTO programmes (code, name, start_year, end_year, territory_code, version)
  VALUES ('BENCH-2023-2027', 'Second programme', 2023, 2027, '200054807', 1) RETURNING id
)
INSERT INTO chantiers (programme_id, number, code, name, version)
SELECT p.id, n, 'BENCH_C' || n, 'Chantier ' || n, 1 FROM p, generate_series(1, 3) AS n
"""
SLOW_ENDPOINTS = [  # no roll-up: the commitments themselves
    "/v1/aggregates/commitments?drilldown=action&year=2024",
    "/v1/aggregates/commitments?drilldown=commune&commune=13055&commune=13001",
]
# The insert triggers of the roll-ups, off during the bulk load (then one rebuild each).
INSERT_TRIGGERS = ("commitments_rollup_insert", "commitments_territorial_rollup_insert")


async def prepare(url: str, n: int) -> None:
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
    await engine.dispose()
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute(SECOND_PROGRAMME)
        await conn.execute(
            f"""INSERT INTO partners (code, name, kind, version)
            SELECT 'BENCH' || i, 'Partner ' || i, (ARRAY[{KINDS}])[1 + i % 9], 1
            FROM generate_series(1, {PARTNERS - 2}) AS i"""
        )
        await conn.execute(
            f"""INSERT INTO actions (code, chantier_id, title, communes, progress, weight, version)
            SELECT 'BENCH-' || i, c.ids[1 + i % cardinality(c.ids)], 'Action ' || i,
                   (ARRAY[{COMMUNES}])[1 + i % 10 : 1 + i % 10 + i % 2], i % 101, 1 + i % 10, 1
            FROM generate_series(1, $1::int) AS i,
                 (SELECT array_agg(id ORDER BY number) AS ids FROM chantiers) c""",
            max(1, n // COMMITMENTS_PER_ACTION),
        )
        # Bulk load without the triggers, then one rebuild each: what a migration's backfill does.
        for trigger in INSERT_TRIGGERS:
            await conn.execute(f"ALTER TABLE commitments DISABLE TRIGGER {trigger}")
        await conn.execute(INSERT, 1, n)
        for trigger in INSERT_TRIGGERS:
            await conn.execute(f"ALTER TABLE commitments ENABLE TRIGGER {trigger}")
        for rollup in ("commitment_rollups", "territorial_rollups"):
            started = time.perf_counter()
            await conn.execute(f"SELECT {rollup}_rebuild()")
            print(f"  {rollup} rebuilt in {time.perf_counter() - started:.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def time_sql(url: str, repeat: int = 10) -> dict[str, float]:
    conn = await asyncpg.connect(plain(url))
    try:
        out = {}
        for name, sql in RAW_SQL.items():
            await conn.fetch(sql)  # warm
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                await conn.fetch(sql)
                samples.append(time.perf_counter() - started)
            out[name] = _median_ms(samples)
        return out
    finally:
        await conn.close()


async def time_writes(url: str, batch: int = 10_000, repeat: int = 5) -> dict[str, float]:
    """Rows per second: one multi-row INSERT of `batch` rows, and `batch // 10` single-row
    INSERTs, each in a transaction rolled back, with both roll-ups' triggers, with the commitment
    roll-up's only, and with neither."""
    conn = await asyncpg.connect(plain(url))
    out: dict[str, float] = {}

    async def rate(work: Callable[[], Awaitable[Any]], rows: int) -> float:
        samples = []
        for _ in range(repeat):
            tr = conn.transaction()
            await tr.start()
            started = time.perf_counter()
            await work()
            samples.append(time.perf_counter() - started)
            await tr.rollback()
        return rows / statistics.median(samples)

    singles = batch // 10
    single = (
        "INSERT INTO commitments (action_id, partner_id, year, amount, disbursed_amount,"
        " instrument, status, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)"
    )
    # Actions of the 2020–2026 programme: the years below lie in its period (a 2023–2027
    # action refuses 2020, commitments' (programme_id, year) foreign key).
    actions = [
        r[0]
        for r in await conn.fetch(
            "SELECT a.id FROM actions a JOIN programmes g ON g.id = a.programme_id"
            " WHERE g.start_year = 2020 AND g.end_year = 2026 ORDER BY a.code LIMIT 500"
        )
    ]
    partners = [r[0] for r in await conn.fetch("SELECT id FROM partners ORDER BY code")]
    args = [
        (actions[i % len(actions)], partners[i % len(partners)], 2020 + i % 7,
         Decimal(1000 + i) / 100, Decimal(0), "grant", "planned" if i % 2 else "committed")
        for i in range(singles)
    ]  # fmt: skip
    try:
        variants = (("with both roll-ups", 2), ("commitment roll-up only", 1), ("without", 0))
        for label, enabled in variants:
            for i, trigger in enumerate(INSERT_TRIGGERS):
                toggle = "ENABLE" if i < enabled else "DISABLE"
                await conn.execute(f"ALTER TABLE commitments {toggle} TRIGGER {trigger}")
            out[f"batch of {batch:,} in one INSERT, {label}"] = await rate(
                lambda: conn.execute(INSERT, 1, batch), batch
            )
            out[f"{singles:,} single-row INSERTs (executemany), {label}"] = await rate(
                lambda: conn.executemany(single, args), singles
            )
        for trigger in INSERT_TRIGGERS:
            await conn.execute(f"ALTER TABLE commitments ENABLE TRIGGER {trigger}")
        return out
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`app` (an ASGI factory) served by one uvicorn worker, as the API and the floor both are."""
    port = _free_port()
    server = subprocess.Popen(  # started before any timing
        [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port),
         "--workers", "1", "--no-access-log", "--log-level", "warning"],
        env=os.environ | env,
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


async def _wait_ready(client: httpx.AsyncClient, path: str) -> None:
    # Up to two minutes: on the shared machine under load a server took longer than 30 s.
    for _ in range(1200):
        try:
            if (await client.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{client.base_url} did not answer {path}")


@dataclass
class Timing:
    path: str
    api: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    api_cpu_ms: float | None = None  # the server process's CPU time per request
    floor_cpu_ms: float | None = None


def _cpu_seconds(process: subprocess.Popen[bytes]) -> float | None:
    """User + system CPU time of `process` so far (Linux); less noisy than latency on a busy
    machine: what the server itself spent."""
    try:
        stat = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def _timed(work: Awaitable[Any], into: list[float]) -> Any:
    started = time.perf_counter()
    result = await work
    into.append(time.perf_counter() - started)
    return result


async def time_http(url: str, requests: int) -> list[Timing]:
    """Each endpoint's median over HTTP, next to its floor (bench.aggregates_floor, served and
    measured the same way) and its raw GROUP BY: the three alternate, request by request, so
    that a busy moment of the shared machine weighs on all of them alike."""
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    conn = await asyncpg.connect(plain(url))
    ids = {
        "chantier": await conn.fetchval(
            "SELECT id FROM chantiers WHERE code = 'TRANSPORTS' ORDER BY id LIMIT 1"
        ),
        "programme": await conn.fetchval(
            "SELECT id FROM programmes WHERE code = 'BENCH-2023-2027'"
        ),
    }
    paths = [(p.format(**ids), requests) for p in ENDPOINTS] + [(p, 10) for p in SLOW_ENDPOINTS]
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session:
        queries = {path: await baselines(session, settings, path, ids) for path, _ in paths}
    await engine.dispose()
    with tempfile.NamedTemporaryFile(suffix=".pickle") as routes:
        routes.write(pickle.dumps({path: q.floor for path, q in queries.items()}))
        routes.flush()
        api, api_url = _serve("app.main:create_app", {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        floor, floor_url = _serve(
            "bench.aggregates_floor:create_floor",
            {"FLOOR_DATABASE_URL": plain(url), "FLOOR_ROUTES": routes.name},
        )
        try:
            async with (
                httpx.AsyncClient(base_url=api_url, timeout=60) as api_client,
                httpx.AsyncClient(base_url=floor_url, timeout=60) as floor_client,
            ):
                await _wait_ready(api_client, "/healthz")
                await _wait_ready(floor_client, paths[0][0])
                out = []
                for path, count in paths:
                    timing = Timing(path)
                    sql, args = queries[path].raw
                    raw_every = max(1, count // 10)
                    for _ in range(5):  # warm: connections, prepared statements
                        (await api_client.get(path)).raise_for_status()
                        (await floor_client.get(path)).raise_for_status()
                    await conn.fetch(sql, *args)
                    cpu = (_cpu_seconds(api), _cpu_seconds(floor))
                    for i in range(count):
                        answer = await _timed(api_client.get(path), timing.api)
                        answer.raise_for_status()
                        answer = await _timed(floor_client.get(path), timing.floor)
                        answer.raise_for_status()
                        if i % raw_every == 0:
                            await _timed(conn.fetch(sql, *args), timing.raw)
                    api_cpu, floor_cpu = _cpu_seconds(api), _cpu_seconds(floor)
                    if api_cpu is not None and floor_cpu is not None:
                        timing.api_cpu_ms = (api_cpu - (cpu[0] or 0)) * 1000 / count
                        timing.floor_cpu_ms = (floor_cpu - (cpu[1] or 0)) * 1000 / count
                    out.append(timing)
                return out
        finally:
            for server in (api, floor):
                server.terminate()
                server.wait(timeout=30)
            await conn.close()


async def run(n: int, requests: int) -> None:
    server, _ = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench")
    try:
        print(f"\n== {n:,} commitments ==", flush=True)
        started = time.perf_counter()
        await prepare(url, n)
        conn = await asyncpg.connect(plain(url))
        rollup_rows = await conn.fetchval("SELECT count(*) FROM commitment_rollups")
        territorial_rows = await conn.fetchval("SELECT count(*) FROM territorial_rollups")
        actions = await conn.fetchval("SELECT count(*) FROM actions")
        await conn.close()
        print(
            f"  loaded in {time.perf_counter() - started:.0f} s: {actions:,} actions, "
            f"{PARTNERS} partners, {rollup_rows:,} roll-up rows, {territorial_rows:,} territorial",
            flush=True,
        )
        print(f"  {'median latency':>16}  request", flush=True)
        for name, ms in (await time_sql(url)).items():
            print(f"  {ms:13.1f} ms  raw SQL (asyncpg): {name}", flush=True)
        print(
            f"\n  {'API':>7} {'floor':>7} {'raw':>7} {'API/floor':>9} {'API/raw':>7}"
            f" {'CPU API':>7} {'floor':>6}  HTTP GET (medians, ms; {requests} requests each,"
            " raw: every tenth; CPU: server ms/request)",
            flush=True,
        )
        for t in await time_http(url, requests):
            api, floor, raw = _median_ms(t.api), _median_ms(t.floor), _median_ms(t.raw)
            cpu = (
                f"{t.api_cpu_ms:7.2f} {t.floor_cpu_ms:6.2f}"
                if t.api_cpu_ms is not None and t.floor_cpu_ms is not None
                else f"{'-':>7} {'-':>6}"
            )
            print(
                f"  {api:7.1f} {floor:7.1f} {raw:7.1f} {api / floor:8.2f}x {api / raw:6.3f}x"
                f" {cpu}  {t.path}",
                flush=True,
            )
        print(f"\n  {'rows/s':>16}  write", flush=True)
        for name, per_second in (await time_writes(url)).items():
            print(f"  {per_second:16,.0f}  {name}", flush=True)
    finally:
        await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, action="append", help="commitments (repeatable)")
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    args = parser.parse_args()
    for n in args.n or [100_000, 1_000_000]:
        asyncio.run(run(n, args.requests))


if __name__ == "__main__":
    main()
