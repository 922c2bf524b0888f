"""Scale-out figures: the same reads served direct, through PgBouncer, and from a replica.

One run starts a primary and its streaming replica (devtools.replica, the bench server's major
version), bulk-loads commitments on the primary, starts PgBouncer (transaction pooling) in front
of it, and three `relance serve --workers 1`: on the primary (the baseline), through PgBouncer
(`DATABASE_PGBOUNCER=true`), and with `DATABASE_READ_URL` on the replica. Each round measures
every case on the three, alternated, and prints each figure with its ratio to the baseline of
the same round. Then the replica's lag: how long after a write's answer the replica has
replayed its `Relance-Read-After` token.

    .venv/bin/python -m bench.scaleout [--commitments 50000] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence

import asyncpg
import httpx

from bench.common import Result, Server, closed_loop, free_port, summarize
from bench.crud import prepare
from devtools.pgbouncer import pgbouncer
from devtools.replica import streaming_pair, wait_replayed
from devtools.scratch import create_scratch_database, plain, with_database

CASES = {
    "list 50 commitments": "/v1/commitments?limit=50",
    "aggregate partner,year": "/v1/aggregates/commitments?drilldown=partner,year",
    "change feed, 100": "/v1/changes?limit=100",
}
CONCURRENCY = 8


async def load(base: str, path: str, seconds: float, headers: dict[str, str]) -> Result:
    latencies: list[float] = []
    errors = count = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10, headers=headers) as c:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(_: int) -> None:
            nonlocal errors, count
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                ok = (await c.get(path)).status_code == 200
                latencies.append(time.perf_counter() - t0)
                count += 1
                errors += not ok

        await closed_loop(CONCURRENCY, worker)
        return summarize(count, time.perf_counter() - start, latencies, errors)


async def replica_lag(base: str, replica_url: str, key: str, writes: int) -> list[float]:
    """Milliseconds from a write's answer until the replica has replayed its token."""
    lags = []
    conn = await asyncpg.connect(plain(replica_url))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(writes):
                code = f"LAG_{uuid.uuid4().hex[:10]}".upper()
                body = {"code": code, "name": code, "kind": "other"}
                answer = await client.post(
                    "/v1/partners", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                answered = time.perf_counter()
                token = answer.headers["Relance-Read-After"]
                replayed = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
                while not await conn.fetchval(replayed, token):  # noqa: ASYNC110 (a server's)
                    await asyncio.sleep(0.0005)
                lags.append((time.perf_counter() - answered) * 1000)
    finally:
        await conn.close()
    return lags


def admin_key(url: str) -> str:
    """A new admin key, made by `relance keys create` (its last line)."""
    completed = subprocess.run(
        [sys.executable, "-m", "app", "keys", "create", "--role", "admin", "--name", "bench"],
        env=os.environ | {"DATABASE_URL": url}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return completed.stdout.strip().splitlines()[-1]


async def bench(args: argparse.Namespace) -> int:
    probe = await asyncpg.connect(plain(args.server))
    major = int(await probe.fetchval("SHOW server_version_num")) // 10000
    await probe.close()
    with contextlib.ExitStack() as stack:
        pair = stack.enter_context(streaming_pair(major))
        primary = await create_scratch_database(pair.primary_url(), "relance_bench_scaleout")
        timings = await prepare(primary, args.commitments, max(1, args.commitments // 20))
        name = primary.partition("?")[0].rsplit("/", 1)[1]
        replica = pair.replica_url(name)
        await wait_replayed(primary, replica)
        bounced = with_database(stack.enter_context(pgbouncer(primary, free_port(), 20)), name)
        env = {"RATE_LIMIT__HEAVY_CONCURRENT": "0"}
        servers = {
            "direct": Server(primary, env=env),
            "pgbouncer": Server(bounced, env=env | {"DATABASE_PGBOUNCER": "true"}),
            "replica": Server(primary, env=env | {"DATABASE_READ_URL": replica}),
        }
        for server in servers.values():
            stack.callback(server.stop)
        for server in servers.values():
            await server.wait_ready(within=300)
        print(f"PostgreSQL {major}, {args.commitments:,} commitments (load {timings}), "
              f"httpx with {CONCURRENCY} concurrent requests, {args.seconds} s a case, "
              f"{args.rounds} rounds alternated; one worker per server")  # fmt: skip
        ratios: dict[tuple[str, str], list[float]] = {}
        figures: dict[tuple[str, str], list[Result]] = {}
        for _ in range(args.rounds):
            for case, path in CASES.items():
                baseline = None
                for label, server in servers.items():
                    result = await load(server.base_url, path, args.seconds, {})
                    figures.setdefault((case, label), []).append(result)
                    baseline = baseline or result
                    ratios.setdefault((case, label), []).append(
                        result.per_second / baseline.per_second
                    )
        print(f"{'case':<26} {'served':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'ratio':>7} errors")  # fmt: skip
        for (case, label), results in figures.items():
            rps = statistics.median(r.per_second for r in results)
            p50 = statistics.median(r.p50_ms for r in results)
            p99 = statistics.median(r.p99_ms for r in results)
            ratio = statistics.median(ratios[(case, label)])
            errors = sum(r.errors for r in results)
            print(f"{case:<26} {label:<10} {rps:>8.0f} {p50:>8.2f} {p99:>8.2f} "
                  f"{ratio:>6.2f}× {errors}")  # fmt: skip
        key = admin_key(primary)
        lags = sorted(await replica_lag(servers["replica"].base_url, replica, key, args.writes))
        print(f"replica lag after a write's answer, {len(lags)} writes: "
              f"p50 {statistics.median(lags):.2f} ms, max {lags[-1]:.2f} ms")  # fmt: skip
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commitments", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes", type=int, default=50)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import server_url

    args = parse_args(argv)
    args.server = server_url()[0]
    return asyncio.run(bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
