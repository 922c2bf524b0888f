"""Commitments read throughput: GET-one and list-50 on one worker, next to bare asyncpg.

    .venv/bin/python -m bench.crud [--n 100000] [--seconds 10] [--concurrency 32]

Makes a scratch database (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded
server), runs the real migrations and the reference seed, bulk-loads N commitments, serves the
app with `relance serve --workers 1` and drives it over HTTP (wrk if installed, else httpx).
The baseline runs the same SQL with a bare asyncpg loop in this process, in the same run: the
ratio app/raw is the figure to compare between machines. The scratch database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx
from pydantic import SecretStr

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.programme.service import seed
from bench.common import (
    Result,
    Server,
    client_description,
    http_load,
    load_average,
    raw_load,
    server_url,
)
from devtools.scratch import create_scratch_database, drop_database, plain

GOAL_GET_ONE = 1_000  # requests/s, one worker, on the 2-core reference machine

# The columns and clauses SQLAlchemy emits for Repository.get and Repository.page.
COLUMNS = (
    "action_id, partner_id, external_ref, year, amount, disbursed_amount, instrument, status, "
    "signed_on, label, synthetic, id, created_at, updated_at, version"
)
GET_SQL = f"SELECT {COLUMNS} FROM commitments WHERE id = $1"
LIST_SQL = f"SELECT {COLUMNS} FROM commitments ORDER BY created_at DESC, id DESC LIMIT $1"
LIST_YEAR_SQL = (
    f"SELECT {COLUMNS} FROM commitments WHERE year IN ($1) "
    "ORDER BY created_at DESC, id DESC LIMIT $2"
)

LOAD_ACTIONS = """
INSERT INTO actions (code, chantier_id, title, version)
SELECT format('BENCH-%s', lpad(g::text, 4, '0')),
       c.ids[1 + g % array_length(c.ids, 1)],
       format('Action de test %s', g),
       1
FROM generate_series(1, $1::int) AS g,
     (SELECT array_agg(id ORDER BY number) AS ids FROM chantiers) AS c
"""

# Years 2020-2026, partners AMP/BDT, every instrument and status; distinct created_at (one second
# apart, newest first in the default order) as rows created over time would have.
LOAD_COMMITMENTS = """
INSERT INTO commitments (action_id, partner_id, external_ref, year, amount, disbursed_amount,
                         instrument, status, signed_on, label, version, created_at, updated_at)
SELECT a.ids[1 + g % array_length(a.ids, 1)],
       p.ids[1 + (g / 3) % array_length(p.ids, 1)],
       'BENCH-' || g,
       2020 + g % 7,
       x.amount,
       round(x.amount * (g % 5) / 4, 2),
       (ARRAY['grant', 'loan', 'equity', 'guarantee', 'own_funds', 'engineering'])[1 + g % 6],
       (ARRAY['planned', 'committed', 'cancelled'])[1 + (g / 7) % 3],
       CASE WHEN g % 3 = 0 THEN NULL ELSE make_date(2020 + g % 7, 1 + g % 12, 1 + g % 28) END,
       'Engagement de test ' || g,
       1,
       x.at,
       x.at
FROM generate_series(1, $1::int) AS g,
     (SELECT array_agg(id ORDER BY code) AS ids FROM actions WHERE code LIKE 'BENCH-%') AS a,
     (SELECT array_agg(id ORDER BY code) AS ids FROM partners WHERE code IN ('AMP', 'BDT')) AS p,
     LATERAL (SELECT round((1000 + (g::bigint * 7919) % 5000000)::numeric, 2) AS amount,
                     now() - make_interval(secs => g) AS at) AS x
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # for GET-one: the prefix a random id is appended to
    random_id: bool
    sql: str
    args_for: Callable[[random.Random], Sequence[Any]]
    expect_rows: int


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    app: Result
    raw: Result

    @property
    def ratio(self) -> float:
        return self.app.per_second / self.raw.per_second if self.raw.per_second else 0.0


def scenarios(ids: Sequence[uuid.UUID]) -> list[Scenario]:
    return [
        Scenario(
            "GET one",
            "/v1/commitments/",
            True,
            GET_SQL,
            lambda rng: (rng.choice(ids),),
            1,
        ),
        Scenario("list 50", "/v1/commitments?limit=50", False, LIST_SQL, lambda _: (51,), 51),
        Scenario(
            "list 50, year=2024",
            "/v1/commitments?year=2024&limit=50",
            False,
            LIST_YEAR_SQL,
            lambda _: (2024, 51),
            51,
        ),
    ]


async def prepare(url: str, n: int, actions: int) -> dict[str, float]:
    """Migrate, seed and bulk-load; returns the seconds each step took."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    await asyncio.to_thread(migrations.upgrade, url)
    timings["migrate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    settings = Settings(database_url=SecretStr(url))
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
    finally:
        await engine.dispose()
    timings["seed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    conn = await asyncpg.connect(plain(url))
    try:
        async with conn.transaction():
            await conn.execute(LOAD_ACTIONS, actions)
            await conn.execute(LOAD_COMMITMENTS, n)
        timings["insert"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE actions, commitments")
        timings["vacuum analyze"] = time.perf_counter() - t0
    finally:
        await conn.close()
    return timings


async def check_same_answers(base_url: str, pool: Any, sample_id: uuid.UUID) -> None:
    """The app and the raw SQL must return the same rows, or the comparison means nothing."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        one = await client.get(f"/v1/commitments/{sample_id}")
        assert one.status_code == 200, one.text
        assert one.json()["id"] == str(sample_id)
        for path, sql, args in (
            ("/v1/commitments?limit=50", LIST_SQL, (51,)),
            ("/v1/commitments?year=2024&limit=50", LIST_YEAR_SQL, (2024, 51)),
        ):
            page = await client.get(path)
            assert page.status_code == 200, page.text
            got = [item["id"] for item in page.json()["items"]]
            rows = await pool.fetch(sql, *args)
            assert got == [str(r["id"]) for r in rows[:50]], f"{path} differs from the raw SQL"


async def explain(pool: Any, sql: str, args: Sequence[Any]) -> list[str]:
    rows = await pool.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", *args)
    return [str(r[0]) for r in rows]


def fmt_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *rest = cells
    return "  ".join(
        [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
    )


def print_table(rows: Sequence[Row]) -> None:
    header = [
        "scenario",
        "app req/s",
        "app p50 ms",
        "app p99 ms",
        "app CPU ms/req",
        "raw q/s",
        "raw p50 ms",
        "raw p99 ms",
        "app/raw",
    ]
    body = [
        [
            r.scenario.name,
            f"{r.app.per_second:,.0f}",
            f"{r.app.p50_ms:.2f}",
            f"{r.app.p99_ms:.2f}",
            "n/a" if r.app.cpu_ms is None else f"{r.app.cpu_ms:.2f}",
            f"{r.raw.per_second:,.0f}",
            f"{r.raw.p50_ms:.2f}",
            f"{r.raw.p99_ms:.2f}",
            f"{r.ratio:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    print(fmt_row(header, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for line in body:
        print(fmt_row(line, widths))


async def bench(server: str, source: str, args: argparse.Namespace) -> int:
    url = await create_scratch_database(server)
    print(f"database: scratch {url.partition('?')[0].rsplit('/', 1)[1]} on {source}")
    app_server: Server | None = None
    pool: Any = None
    try:
        t0 = time.perf_counter()
        timings = await prepare(url, args.n, args.actions)
        load_seconds = time.perf_counter() - t0
        pool = await asyncpg.create_pool(
            plain(url), min_size=args.concurrency, max_size=args.concurrency
        )
        version = await pool.fetchval("SHOW server_version")
        count = await pool.fetchval("SELECT count(*) FROM commitments")
        ids: list[uuid.UUID] = [r["id"] for r in await pool.fetch("SELECT id FROM commitments")]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        print(f"PostgreSQL {version}; {count:,} commitments over {args.actions} actions")
        print(f"load time: {load_seconds:.1f} s ({steps})")

        app_server = Server(url, workers=1)
        await app_server.wait_ready()
        await check_same_answers(app_server.base_url, pool, ids[0])
        uvicorn_impl = (
            ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
            + " + "
            + ("httptools" if importlib.util.find_spec("httptools") else "h11")
        )
        print(
            f"app: relance serve --workers 1 on {app_server.base_url} ({uvicorn_impl}, "
            f"LOG_LEVEL={os.environ.get('LOG_LEVEL', 'default')})"
        )
        print(f"load generator: {client_description(args.concurrency, args.threads)}")
        print(
            f"baseline: bare asyncpg loop in this process, {args.concurrency} tasks, "
            f"one pooled connection each"
        )
        print(
            f"{os.cpu_count()} CPUs ({platform.machine()}, Python {platform.python_version()}); "
            "server, PostgreSQL and load generator share them. "
            f"{args.seconds:g} s per measurement after {args.warmup:g} s of warm-up."
        )
        print(f"load average before measuring: {load_average()} (other work skews the figures)")
        print()

        str_ids = [str(i) for i in ids]
        rows: list[Row] = []
        for scenario in scenarios(ids):
            path_ids = str_ids if scenario.random_id else None
            load = (app_server.base_url, scenario.path, path_ids)
            if args.warmup > 0:
                await http_load(*load, args.warmup, args.concurrency, args.threads)
            cpu_before = app_server.cpu_seconds()
            app = await http_load(*load, args.seconds, args.concurrency, args.threads)
            cpu_after = app_server.cpu_seconds()
            if cpu_before is not None and cpu_after is not None and app.requests:
                app = replace(app, cpu_ms=(cpu_after - cpu_before) * 1000 / app.requests)
            raw_args = (pool, scenario.sql, scenario.args_for, scenario.expect_rows)
            if args.warmup > 0:
                await raw_load(*raw_args, args.warmup, args.concurrency)
            raw = await raw_load(*raw_args, args.seconds, args.concurrency)
            rows.append(Row(scenario, app, raw))
            print(
                f"  {scenario.name}: app {app.per_second:,.0f} req/s, "
                f"raw {raw.per_second:,.0f} q/s",
                file=sys.stderr,
            )

        print()
        print_table(rows)
        print()
        errors = [(r.scenario.name, r.app.errors, r.raw.errors) for r in rows]
        failed = [e for e in errors if e[1] or e[2]]
        for name, app_errors, raw_errors in failed:
            print(f"ERRORS in {name}: app {app_errors}, raw {raw_errors}")
        get_one = rows[0].app.per_second
        verdict = "MET" if get_one >= GOAL_GET_ONE else "NOT MET"
        print(
            f"goal: >= {GOAL_GET_ONE:,} GET-one req/s with one worker: {verdict} "
            f"({get_one:,.0f} req/s)"
        )
        cpu = rows[0].app.cpu_ms
        if cpu:
            print(
                f"app CPU per GET-one: {cpu:.2f} ms, i.e. at most {1000 / cpu:,.0f} req/s "
                "for one worker even with a whole core to itself"
            )

        if args.explain:
            print()
            for name, sql, sql_args in (
                ("list 50", LIST_SQL, (51,)),
                ("list 50, year=2024", LIST_YEAR_SQL, (2024, 51)),
            ):
                print(f"plan of {name}:")
                for line in await explain(pool, sql, sql_args):
                    print(f"    {line}")
        return 1 if failed else 0
    finally:
        if app_server is not None:
            app_server.stop()
        if pool is not None:
            await pool.close()
        if args.keep:
            print(f"kept the scratch database: {url}")
        else:
            await drop_database(url)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.crud", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="commitments to load")
    parser.add_argument("--actions", type=int, default=200, help="actions they belong to")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each one")
    parser.add_argument("--concurrency", type=int, default=32, help="connections / tasks")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--no-explain", dest="explain", action="store_false", help="skip plans")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server, source = server_url()  # may start the embedded server: before the event loop
    return asyncio.run(bench(server, source, args))


if __name__ == "__main__":
    sys.exit(main())
