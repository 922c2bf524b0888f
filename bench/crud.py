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
import statistics
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
    wrk_path,
)
from bench.crud_floor import GET_SQL, LIST_SQL, LIST_YEAR_SQL
from devtools.scratch import create_scratch_database, drop_database, plain

GOAL_RATIO = 0.5  # of the floor's requests/s, measured in the same run
FLOOR = "bench.crud_floor:create_floor"

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
    """One scenario's rounds: the app, the floor and the raw loop, alternated."""

    scenario: Scenario
    app: list[Result]
    floor: list[Result]
    raw: list[Result]

    @staticmethod
    def rate(results: Sequence[Result]) -> float:
        seconds = sum(r.seconds for r in results)
        return sum(r.requests for r in results) / seconds if seconds else 0.0

    @property
    def ratios(self) -> list[float]:
        """App / floor of each round (the two measured one after the other)."""
        return [a.per_second / f.per_second for a, f in zip(self.app, self.floor, strict=True)]

    @property
    def ratio(self) -> float:
        floor = self.rate(self.floor)
        return self.rate(self.app) / floor if floor else 0.0


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
            lambda _: ([2024], 51),
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


async def check_same_answers(app_url: str, floor_url: str, pool: Any, sample_id: uuid.UUID) -> None:
    """The app, the floor and the raw SQL must return the same rows (the app and the floor the
    same JSON, headers aside from the ETag), or the comparison means nothing."""
    async with (
        httpx.AsyncClient(base_url=app_url, timeout=10.0) as app,
        httpx.AsyncClient(base_url=floor_url, timeout=10.0) as floor,
    ):
        for path, sql, args in (
            (f"/v1/commitments/{sample_id}", GET_SQL, (sample_id,)),
            ("/v1/commitments?limit=50", LIST_SQL, (51,)),
            ("/v1/commitments?year=2024&limit=50", LIST_YEAR_SQL, ([2024], 51)),
        ):
            answers = [await app.get(path), await floor.get(path)]
            for answer in answers:
                assert answer.status_code == 200, answer.text
            assert answers[0].json() == answers[1].json(), f"{path}: the floor answers otherwise"
            assert answers[0].headers.get("etag") == answers[1].headers.get("etag"), path
            body = answers[0].json()
            got = [item["id"] for item in body["items"]] if "items" in body else [body["id"]]
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
        "floor req/s",
        "app/floor",
        "per round",
        "app p50/p99 ms",
        "floor p50/p99 ms",
        "CPU ms/req app, floor",
        "raw q/s",
    ]

    def cpu(results: Sequence[Result]) -> str:
        values = [r.cpu_ms for r in results if r.cpu_ms is not None]
        return f"{sum(values) / len(values):.2f}" if values else "n/a"

    def latency(results: Sequence[Result]) -> str:
        p50 = statistics.median(r.p50_ms for r in results)
        return f"{p50:.2f}/{max(r.p99_ms for r in results):.2f}"

    body = [
        [
            r.scenario.name,
            f"{r.rate(r.app):,.0f}",
            f"{r.rate(r.floor):,.0f}",
            f"{r.ratio:.2f}",
            " ".join(f"{x:.2f}" for x in r.ratios),
            latency(r.app),
            latency(r.floor),
            f"{cpu(r.app)}, {cpu(r.floor)}",
            f"{r.rate(r.raw):,.0f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    print(fmt_row(header, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for line in body:
        print(fmt_row(line, widths))


Load = tuple[str, Sequence[str] | None]  # a path, and the ids to append to it (GET one)


async def measured(server: Server, load: Load, args: argparse.Namespace) -> Result:
    """One round of wrk against `server`, with the server's CPU time per request."""
    cpu_before = server.cpu_seconds()
    path, ids = load
    result = await http_load(
        server.base_url, path, ids, args.seconds, args.concurrency, args.threads
    )
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None and result.requests:
        result = replace(result, cpu_ms=(cpu_after - cpu_before) * 1000 / result.requests)
    return result


async def bench(server: str, source: str, args: argparse.Namespace) -> int:
    url = await create_scratch_database(server)
    print(f"database: scratch {url.partition('?')[0].rsplit('/', 1)[1]} on {source}")
    servers: list[Server] = []
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
        servers.append(app_server)
        floor = Server(url, asgi=FLOOR, env={"FLOOR_DATABASE_URL": plain(url)})
        servers.append(floor)
        await app_server.wait_ready()
        await floor.wait_ready()
        await check_same_answers(app_server.base_url, floor.base_url, pool, ids[0])
        uvicorn_impl = (
            ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
            + " + "
            + ("httptools" if importlib.util.find_spec("httptools") else "h11")
        )
        print(
            f"app: relance serve --workers 1 on {app_server.base_url} ({uvicorn_impl}, "
            f"LOG_LEVEL={os.environ.get('LOG_LEVEL', 'default')})"
        )
        print(
            f"floor: {FLOOR} (bare Starlette + asyncpg + orjson, the same JSON) on "
            f"{floor.base_url}, one uvicorn worker"
        )
        print(f"load generator: {client_description(args.concurrency, args.threads)}")
        print(
            f"raw: bare asyncpg loop in this process, {args.concurrency} tasks, "
            f"one pooled connection each (the database's own ceiling)"
        )
        print(
            f"{os.cpu_count()} CPUs ({platform.machine()}, Python {platform.python_version()}); "
            "servers, PostgreSQL and load generator share them. "
            f"{args.rounds} rounds of app, floor, raw, {args.seconds:g} s each, "
            f"after {args.warmup:g} s of warm-up each."
        )
        print(f"load average before measuring: {load_average()} (other work skews the figures)")
        print()

        str_ids = [str(i) for i in ids]
        rows: list[Row] = []
        for scenario in scenarios(ids):
            load: Load = (scenario.path, str_ids if scenario.random_id else None)
            raw_args = (pool, scenario.sql, scenario.args_for, scenario.expect_rows)
            if args.warmup > 0:
                for target in (app_server, floor):
                    await http_load(
                        target.base_url, *load, args.warmup, args.concurrency, args.threads
                    )
                await raw_load(*raw_args, args.warmup, args.concurrency)
            row = Row(scenario, [], [], [])
            for _ in range(args.rounds):
                row.app.append(await measured(app_server, load, args))
                row.floor.append(await measured(floor, load, args))
                row.raw.append(await raw_load(*raw_args, args.seconds, args.concurrency))
                print(
                    f"  {scenario.name}: app {row.app[-1].per_second:,.0f} req/s, "
                    f"floor {row.floor[-1].per_second:,.0f} req/s, "
                    f"raw {row.raw[-1].per_second:,.0f} q/s",
                    file=sys.stderr,
                )
            rows.append(row)

        print(f"load average after measuring: {load_average()}")
        print()
        print_table(rows)
        print()
        failed = False
        for r in rows:
            errors = [sum(x.errors for x in results) for results in (r.app, r.floor, r.raw)]
            if any(errors):
                failed = True
                print(f"ERRORS in {r.scenario.name}: app {errors[0]}, floor {errors[1]}, "
                      f"raw {errors[2]}")  # fmt: skip
        for r in rows:
            verdict = "MET" if r.ratio >= GOAL_RATIO else "NOT MET"
            if wrk_path() is None:
                # httpx in this process tops out near the floor's rate: both servers then wait
                # on it, and the ratio of rates says nothing about the app (install wrk).
                verdict = "NOT MEASURED (httpx load generator, install wrk)"
            print(f"goal: {r.scenario.name} >= {GOAL_RATIO}x the floor: {verdict} ({r.ratio:.2f}x)")

        if args.explain:
            print()
            for name, sql, sql_args in (
                ("list 50", LIST_SQL, (51,)),
                ("list 50, year=2024", LIST_YEAR_SQL, ([2024], 51)),
            ):
                print(f"plan of {name}:")
                for line in await explain(pool, sql, sql_args):
                    print(f"    {line}")
        return 1 if failed else 0
    finally:
        for started in servers:
            started.stop()
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
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="app, floor, raw alternations")
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
