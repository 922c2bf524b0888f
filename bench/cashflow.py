"""Cash-flow benchmark: N commitments (bench.aggregates' data), multi-year schedules and about
3 payments per commitment, then the cash-flow endpoints' median latency over HTTP next to two
baselines measured in the same run, alternated request by request: the **floor** (the plain
ASGI app of bench.aggregates_floor, running the one statement the API runs, compiled once,
through asyncpg: API / floor is the API's own cost) and the raw GROUP BY over the base tables
(API / raw: what the roll-ups save); then the write cost of the cash-flow roll-up triggers.

    .venv/bin/python -m bench.cashflow [--n 1000000] [--requests 100] [--keep]
    .venv/bin/python -m bench.cashflow --database URL    # again, on a database kept before

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL; the scratch
database is dropped at the end, unless --keep (building 1M commitments takes a while): its URL
is printed, and --database URL measures it again, migrated to the head first.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from app import migrations
from app.cashflow.router import parse_cashflow_drilldown
from app.cashflow.service import query_of
from app.cashflow.statements import MEASURES, cube_params, cube_statement
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.reporting.schemas import AggregateFilters
from app.reporting.service import ReportingService, parse_order
from bench.aggregates import Timing, _cpu_seconds, _serve, _timed, _wait_ready, prepare
from bench.aggregates_floor import Query, _compiled
from bench.common import raw_connection, server_url
from devtools.scratch import create_scratch_database, drop_database, plain

# Loaded with every trigger off (session_replication_role = replica), then one rebuild: what
# the migration's backfill does. Commitments get 1 to 3 yearly lines from their year on, each
# an equal share (the last takes the remaining cents); committed ones get 5 payments (4
# disbursements of 15 % and a reversal of 5 %) dated in their year and the 3 after.
LINES = """
INSERT INTO schedule_lines (commitment_id, year, amount)
SELECT c.id, c.year + k - 1,
       CASE WHEN k < n THEN trunc(c.amount / n, 2)
            ELSE c.amount - (n - 1) * trunc(c.amount / n, 2) END
FROM (SELECT id, year, amount, 1 + (hashtext(id::text) & 1023) % 3 AS n FROM commitments) c
CROSS JOIN LATERAL generate_series(1, c.n) AS k
"""
PAYMENTS = """
INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, external_ref, version)
SELECT c.id, c.partner_id,
       make_date(c.year + j % 4, 1 + (h + j) % 12, 1 + (h * j) % 28),
       round(c.amount * CASE WHEN j = 5 THEN 0.05 ELSE 0.15 END, 2),
       CASE WHEN j = 5 THEN 'reversal' ELSE 'disbursement' END,
       'P' || c.id || '-' || j, 1
FROM (SELECT id, partner_id, year, amount, hashtext(id::text) & 1023 AS h FROM commitments
      WHERE status = 'committed') c
CROSS JOIN generate_series(1, 5) AS j
WHERE round(c.amount * 0.05, 2) > 0
"""
RAW_SQL = {
    "cash flow by chantier and year (commitments, lines, payments ⋈ actions)": """
        SELECT chantier_id, year, sum(committed), sum(scheduled), sum(paid) FROM (
          SELECT a.chantier_id, c.year, c.amount AS committed, 0 AS scheduled, 0 AS paid
          FROM commitments c JOIN actions a ON a.id = c.action_id WHERE c.status = 'committed'
          UNION ALL
          SELECT a.chantier_id, l.year, 0, l.amount, 0
          FROM schedule_lines l JOIN commitments c ON c.id = l.commitment_id
          JOIN actions a ON a.id = c.action_id WHERE c.status = 'committed'
          UNION ALL
          SELECT a.chantier_id, extract(year FROM p.paid_on)::int, 0, 0,
                 CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END
          FROM payments p JOIN commitments c ON c.id = p.commitment_id
          JOIN actions a ON a.id = c.action_id WHERE c.status = 'committed') f
        GROUP BY 1, 2""",
    "paid by year (payments ⋈ commitments)": """
        SELECT extract(year FROM p.paid_on)::int,
               sum(CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END)
        FROM payments p JOIN commitments c ON c.id = p.commitment_id
        WHERE c.status = 'committed' GROUP BY 1""",
}
BASELINE = next(iter(RAW_SQL))
ENDPOINTS = [
    "/v1/aggregates/cashflow",
    "/v1/aggregates/cashflow?drilldown=chantier",
    "/v1/aggregates/cashflow?drilldown=programme,partner",
    "/v1/aggregates/cashflow?drilldown=priority&year_from=2022",
    "/v1/aggregates/cashflow?drilldown=partner_kind&axis=month&year=2024",
    "/v1/aggregates/cashflow?drilldown=chantier&programme=BENCH-2023-2027&as_of=2026",
    "/v1/chantiers/{chantier}/progress",
    "/v1/summary",
]


async def load_money(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("DELETE FROM schedule_lines")  # a default line, where it is made
        started = time.perf_counter()
        await conn.execute(LINES)
        await conn.execute(PAYMENTS)
        await conn.execute("SET session_replication_role = DEFAULT")
        print(f"  lines and payments loaded in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        await conn.execute("SELECT cashflow_rollups_rebuild()")
        print(f"  cash-flow roll-up rebuilt in {time.perf_counter() - started:.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE")
        counts = {}
        for table in ("commitments", "schedule_lines", "payments", "cashflow_rollups"):
            counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        return counts
    finally:
        await conn.close()


async def time_sql(url: str, repeat: int) -> dict[str, float]:
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
            out[name] = statistics.median(samples) * 1000
        return out
    finally:
        await conn.close()


async def floor_query(session: Any, settings: Settings, path: str) -> Query | None:
    """The one statement the API runs for a cash-flow path, compiled with its parameters (as
    the router builds it); None for the other endpoints (no floor)."""
    route, _, query_string = path.partition("?")
    if route != "/v1/aggregates/cashflow":
        return None
    params = urllib.parse.parse_qs(query_string)
    dims = parse_cashflow_drilldown(params.pop("drilldown", None))
    axis = params.pop("axis", ["year"])[0]
    as_of = int(params.pop("as_of", [str(datetime.now(UTC).year)])[0])
    keys = parse_order(params.pop("order", [None])[0], (*dims, "year"), MEASURES)
    bounds = {k: int(params.pop(k)[0]) for k in ("year_from", "year_to") if k in params}
    filters = AggregateFilters(
        **{k: [int(x) for x in v] if k == "year" else v for k, v in params.items()}  # type: ignore[arg-type]
        | bounds
    )
    cut = await ReportingService(session, settings).resolve(filters)
    query = query_of(dims, cut, axis, keys, 1, 100, settings.aggregates.max_cells)
    return _compiled(cube_statement(query), cube_params(query, as_of))


async def time_http(url: str, requests: int) -> list[Timing]:
    """Each endpoint's median over `requests` sequential requests to one uvicorn worker, next
    to its floor (where it has one) and the raw baseline: they alternate, request by request
    (the raw GROUP BY, seconds long, every third of the way), so that a busy moment of the
    shared machine weighs on all of them alike."""
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    conn = await asyncpg.connect(plain(url))
    chantier = await conn.fetchval(
        "SELECT id FROM chantiers WHERE code = 'TRANSPORTS' ORDER BY id LIMIT 1"
    )
    paths = [p.format(chantier=chantier) for p in ENDPOINTS]
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session:
        floors = {path: await floor_query(session, settings, path) for path in paths}
    await engine.dispose()
    raw_sql = RAW_SQL[BASELINE]
    with tempfile.NamedTemporaryFile(suffix=".pickle") as routes:
        routes.write(pickle.dumps({p: q for p, q in floors.items() if q is not None}))
        routes.flush()
        api, api_url = _serve("app.main:create_app", {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        floor, floor_url = _serve(
            "bench.aggregates_floor:create_floor",
            {"FLOOR_DATABASE_URL": plain(url), "FLOOR_ROUTES": routes.name},
        )
        try:
            async with (
                httpx.AsyncClient(base_url=api_url, timeout=120) as api_client,
                httpx.AsyncClient(base_url=floor_url, timeout=120) as floor_client,
            ):
                await _wait_ready(api_client, "/healthz")
                await _wait_ready(floor_client, paths[0])
                out = []
                for path in paths:
                    timing = Timing(path)
                    has_floor = floors[path] is not None
                    for _ in range(5):  # warm: connections, prepared statements
                        (await api_client.get(path)).raise_for_status()
                        if has_floor:
                            (await floor_client.get(path)).raise_for_status()
                    raw_every = max(1, requests // 3)
                    cpu = (_cpu_seconds(api), _cpu_seconds(floor))
                    for i in range(requests):
                        (await _timed(api_client.get(path), timing.api)).raise_for_status()
                        if has_floor:
                            answer = await _timed(floor_client.get(path), timing.floor)
                            answer.raise_for_status()
                        if i % raw_every == 0:
                            await _timed(conn.fetch(raw_sql), timing.raw)
                    api_cpu, floor_cpu = _cpu_seconds(api), _cpu_seconds(floor)
                    if api_cpu is not None and floor_cpu is not None:
                        timing.api_cpu_ms = (api_cpu - (cpu[0] or 0)) * 1000 / requests
                        if has_floor:
                            timing.floor_cpu_ms = (floor_cpu - (cpu[1] or 0)) * 1000 / requests
                    out.append(timing)
                return out
        finally:
            for server in (api, floor):
                server.terminate()
                server.wait(timeout=30)
            await conn.close()


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def time_writes(url: str, repeat: int = 5) -> dict[str, float]:
    """Rows per second, each in a transaction rolled back, with and without the cash-flow
    triggers: 10,000 payments in one INSERT, and 1,000 single-row payment INSERTs."""
    conn = await raw_connection(plain(url))
    rows = await conn.fetch(
        # Room for one more cent: the payments were loaded with the triggers off, so the
        # commitments' disbursed_amount (bench.aggregates') may already be their amount.
        "SELECT id, partner_id, year FROM commitments WHERE status = 'committed'"
        " AND amount - disbursed_amount >= 0.02 ORDER BY id LIMIT 10000"
    )
    batch = (
        "INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, external_ref,"
        " version) SELECT c, p, make_date(y, 6, 1), 0.01, 'disbursement', 'W' || c || $4, 1"
        " FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS t (c, p, y)"
    )
    single = (
        "INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, external_ref,"
        " version) VALUES ($1::uuid, $2, make_date($3, 6, 1), 0.01, 'disbursement',"
        " 'S' || $1::uuid::text, 1)"
    )
    columns = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    triggers = ("payments_cashflow_insert",)
    out: dict[str, float] = {}

    async def rate(work: Any, n: int) -> float:
        samples = []
        for _ in range(repeat):
            tr = conn.transaction()
            await tr.start()
            started = time.perf_counter()
            await work()
            samples.append(time.perf_counter() - started)
            await tr.rollback()
        return n / statistics.median(samples)

    try:
        for label, toggle in (("with the cash-flow trigger", "ENABLE"), ("without", "DISABLE")):
            for name in triggers:
                await conn.execute(f"ALTER TABLE payments {toggle} TRIGGER {name}")
            out[f"{len(rows):,} payments in one INSERT, {label}"] = await rate(
                lambda: conn.execute(batch, *columns, "-b"), len(rows)
            )
            singles = [(r[0], r[1], r[2]) for r in rows[:1000]]
            out[f"{len(singles):,} single-row payment INSERTs, {label}"] = await rate(
                lambda s=singles: conn.executemany(single, s), len(singles)
            )
        for name in triggers:
            await conn.execute(f"ALTER TABLE payments ENABLE TRIGGER {name}")
        return out
    finally:
        await conn.close()


async def build(n: int) -> str:
    """A scratch database with n commitments, their schedules and payments; its URL."""
    server, _ = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench")
    print(f"\n== {n:,} commitments ==", flush=True)
    started = time.perf_counter()
    await prepare(url, n)
    counts = await load_money(url)
    print(
        f"  loaded in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        flush=True,
    )
    return url


async def reuse(url: str) -> None:
    """A database built by an earlier --keep run, moved to the head (a new index, say)."""
    await asyncio.to_thread(migrations.upgrade, url)
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute("VACUUM ANALYZE")
        n = await conn.fetchval("SELECT count(*) FROM commitments")
        payments = await conn.fetchval("SELECT count(*) FROM payments")
    finally:
        await conn.close()
    print(f"\n== {n:,} commitments, {payments:,} payments (kept database) ==", flush=True)


async def run(n: int, requests: int, keep: bool, database: str | None) -> None:
    if database is None:
        url = await build(n)
    else:
        url = database
        await reuse(url)
    try:
        for name, ms in (await time_sql(url, 10)).items():
            print(f"  {ms:10.1f} ms  raw SQL (asyncpg): {name}", flush=True)
        print(
            f"\n  {'API':>7} {'floor':>7} {'raw':>8} {'API/floor':>9} {'API/raw':>7}"
            f" {'CPU API':>7} {'floor':>6}  HTTP GET (p50, ms; {requests} requests each,"
            " the raw GROUP BY every third of the way; CPU: server ms/request)",
            flush=True,
        )
        for t in await time_http(url, requests):
            api, raw = _median_ms(t.api), _median_ms(t.raw)
            floor = f"{_median_ms(t.floor):7.1f}" if t.floor else f"{'-':>7}"
            vs_floor = f"{api / _median_ms(t.floor):8.2f}x" if t.floor else f"{'-':>9}"
            cpu_api = f"{t.api_cpu_ms:7.2f}" if t.api_cpu_ms is not None else f"{'-':>7}"
            cpu_floor = f"{t.floor_cpu_ms:6.2f}" if t.floor_cpu_ms is not None else f"{'-':>6}"
            print(
                f"  {api:7.1f} {floor} {raw:8.1f} {vs_floor} {api / raw:6.4f}x"
                f" {cpu_api} {cpu_floor}  GET {t.path}",
                flush=True,
            )
        print(f"  {'rows/s':>10}  write", flush=True)
        for name, per_second in (await time_writes(url)).items():
            print(f"  {per_second:10,.0f}  {name}", flush=True)
    finally:
        if keep or database is not None:
            print(f"  kept: --database {url}", flush=True)
        else:
            await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="commitments")
    parser.add_argument("--requests", type=int, default=100, help="requests per endpoint")
    parser.add_argument("--keep", action="store_true", help="keep the database built")
    parser.add_argument("--database", help="measure a database kept by an earlier --keep")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.requests, args.keep, args.database))


if __name__ == "__main__":
    main()
