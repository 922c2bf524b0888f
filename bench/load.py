"""Mixed load, and a database outage under load: statuses, latencies and every write kept.

    .venv/bin/python -m bench.load [--clients 50] [--seconds 60] [--fault]   # make load(-faults)

Makes a scratch database (LOAD_DATABASE_URL, else BENCH_DATABASE_URL, else TEST_DATABASE_URL,
else the embedded server), migrates, seeds, adds the demo data and mints an admin key and a
partner key for BDT; serves the app with `relance serve` and runs N clients (one
httpx.AsyncClient and connection each) for S seconds: 80 % reads (lists with filters, GET one,
aggregates by chantier and year, the summary, the change feed), 20 % writes (POST with an
Idempotency-Key, PATCH with If-Match retried on 412, PUT by partner reference, batches of 50).
Every request has a 10 s client timeout. Afterwards plain SQL checks that every acknowledged
write is stored. With --fault, the database refuses connections and its backends are killed
for 5 s from 40 % of the run: errors are allowed only in that window (plus a grace) and must be
503 problem+json with Retry-After. Exits 1 when a rule is broken. The scratch database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from pydantic import SecretStr

from app import migrations
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models.enums import Role
from app.ops.logs import error_entries
from app.partners.repository import PartnerRepository
from app.programme.demo import demo
from app.programme.service import seed
from bench.common import Server, load_average
from bench.common import server_url as bench_server_url
from bench.load_check import (
    READ_KINDS,
    Ledger,
    Sample,
    stats_table,
    verify_writes,
)
from bench.load_client import BACKOFF_CAP, CLIENT_TIMEOUT, WRITE_SHARE, Fixtures, LoadClient
from devtools.scratch import create_scratch_database, drop_database, plain, with_database

OUTAGE_AT = 0.4  # of the run
OUTAGE_SECONDS = 5.0
GRACE_SECONDS = 2.0  # after reopening, errors are still forgiven for this long


@dataclass(frozen=True)
class Window:
    closed: float
    reopened: float


ACTIONS = """SELECT a.id FROM actions a JOIN programmes p ON p.id = a.programme_id
WHERE p.start_year <= 2020 AND p.end_year >= 2026 ORDER BY a.code"""
COMMITMENTS = "SELECT id FROM commitments"


def server_url() -> tuple[str, str]:
    configured = os.environ.get("LOAD_DATABASE_URL")
    return (configured, "LOAD_DATABASE_URL") if configured else bench_server_url()


async def prepare(url: str) -> Fixtures:
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(database_url=SecretStr(url))
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
            await demo(session, settings)
            bdt = await PartnerRepository(session).find_by(code="BDT")
            assert bdt is not None
            keys = ApiKeyRepository(session)
            _, admin = await create_key(keys, name="load admin", role=Role.admin, partner_id=None)
            _, partner = await create_key(
                keys, name="load BDT", role=Role.partner, partner_id=bdt.id
            )
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(plain(url))
    try:
        # The clients' writes use years 2020-2026: the actions of programmes whose period
        # holds them.
        actions = [str(r["id"]) for r in await conn.fetch(ACTIONS)]
        commitments = [str(r["id"]) for r in await conn.fetch(COMMITMENTS)]
    finally:
        await conn.close()
    return Fixtures(admin, partner, bdt.id, actions, commitments)


class Run:
    def __init__(
        self, base_url: str, fixtures: Fixtures, seconds: float, max_requests: int
    ) -> None:
        self.base_url = base_url
        self.fixtures = fixtures
        self.ledger = Ledger()
        self.seconds = seconds
        self.max_requests = max_requests
        self.started = time.perf_counter()
        self.deadline = self.started + seconds

    def budget_left(self) -> bool:
        return len(self.ledger.samples) < self.max_requests

    async def go(self, clients: int, fault: Any) -> Window | None:
        self.started = time.perf_counter()
        self.deadline = self.started + self.seconds
        loops = [LoadClient(i, self).loop() for i in range(clients)]
        outcome = await asyncio.gather(fault(self) if fault else asyncio.sleep(0), *loops)
        window: Window | None = outcome[0]
        return window


async def set_connections(admin: Any, name: str, allowed: bool) -> None:
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    if not allowed:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )


def outage(admin: Any, name: str) -> Any:
    """A fault task: close the database at 40 % of the run for 5 s, from the admin connection."""

    async def inject(run: Run) -> Window:
        await asyncio.sleep(max(0.0, run.started + run.seconds * OUTAGE_AT - time.perf_counter()))
        closed = time.perf_counter() - run.started
        try:
            await set_connections(admin, name, False)
            await asyncio.sleep(OUTAGE_SECONDS - (time.perf_counter() - run.started - closed))
        finally:
            await set_connections(admin, name, True)
        return Window(closed, time.perf_counter() - run.started)

    return inject


# -- report ----------------------------------------------------------------------------------


def server_errors(log: str) -> Counter[str]:
    """The server's error-level log lines, by message (a 500 or an exception after a response)."""
    return Counter(str(entry.get("message", ""))[:100] for entry in error_entries(log))


def print_stats(samples: Sequence[Sample]) -> None:
    header = f"{'kind':<11} {'requests':>9} {'unexpected':>10} {'p50 ms':>8} {'p90 ms':>8} "
    print(header + f"{'p99 ms':>8} {'max ms':>8}")
    for row in stats_table(samples):
        print(
            f"{row.kind:<11} {row.count:>9,} {row.unexpected:>10,} {row.p50_ms:>8.1f} "
            f"{row.p90_ms:>8.1f} {row.p99_ms:>8.1f} {row.max_ms:>8.1f}"
        )


def judge(run: Run, window: Window | None, problems: list[str]) -> list[tuple[bool, str]]:
    samples = run.ledger.samples
    bad = [s for s in samples if not s.expected]
    timeouts = [s for s in samples if s.error.endswith("Timeout") or s.seconds >= CLIENT_TIMEOUT]
    rules = [
        (
            not timeouts,
            f"no request reached the {CLIENT_TIMEOUT:g} s client timeout "
            f"({len(timeouts)}; longest {max(s.seconds for s in samples):.2f} s)",
        ),
        (
            not problems,
            f"every acknowledged write is stored, no POST stored twice ({len(problems)} problems)",
        ),
    ]
    if window is None:
        rules.insert(0, (not bad, f"zero errors ({len(bad)} unexpected answers)"))
        return rules
    until = window.reopened + GRACE_SECONDS
    outside = [s for s in bad if s.end < window.closed or s.start > until]
    not_503 = [s for s in bad if not s.problem_503]
    in_outage = [s for s in bad if s.status == 503]
    after = [s for s in samples if s.start >= window.reopened and s.status and s.status < 300]
    first_ok = min((s.end for s in after), default=float("inf")) - window.reopened
    rules[:0] = [
        (bool(in_outage), f"the outage was felt ({len(in_outage)} answers 503)"),
        (
            not outside,
            f"errors only during the outage + {GRACE_SECONDS:g} s ({len(outside)} outside)",
        ),
        (not not_503, f"every error is a 503 problem+json with Retry-After ({len(not_503)} not)"),
        (first_ok <= GRACE_SECONDS, f"recovered: first 2xx {first_ok:.2f} s after reopening"),
    ]
    for s in (outside + not_503)[:10]:
        print(f"  e.g. {s.kind} at {s.start:.2f}-{s.end:.2f} s: {s.status} {s.error}")
    return rules


def report(run: Run, window: Window | None, problems: list[str], log: str) -> int:
    samples = run.ledger.samples
    elapsed = max((s.end for s in samples), default=run.seconds)
    reads = sum(s.kind in READ_KINDS for s in samples)
    statuses = Counter(str(s.status or s.error) for s in samples)
    print(
        f"\n{len(samples):,} requests in {elapsed:.1f} s ({len(samples) / elapsed:,.0f} req/s); "
        f"reads {reads / len(samples):.1%} (a PATCH's ETag read counts as a write)"
    )
    print("statuses: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
    print()
    print_stats(samples)
    unexpected = Counter((s.kind, s.status, s.error[:80]) for s in samples if not s.expected)
    if unexpected:
        print("\nunexpected answers, most frequent first (kind, status, problem reason):")
        for (kind, status, reason), n in unexpected.most_common(8):
            print(f"  {n:>6,}  {kind} {status} {reason}")
    if window is not None:
        print(
            f"\noutage: closed at {window.closed:.2f} s, reopened at {window.reopened:.2f} s "
            f"({window.reopened - window.closed:.2f} s); errors forgiven until "
            f"{window.reopened + GRACE_SECONDS:.2f} s"
        )
        outside = [s for s in samples if s.end < window.closed or s.start > window.reopened]
        print("latency outside the outage window:")
        print_stats(outside)
    acked = run.ledger.acknowledged_writes()
    print("\nacknowledged writes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(acked.items())))
    print(f"POST Idempotency-Keys tried: {len(run.ledger.post_keys):,}")
    for line in problems[:20]:
        print(f"  LOST: {line}")
    errors = server_errors(log)
    print(f"server error-level log lines: {sum(errors.values())}")
    for message, count in errors.most_common(5):
        print(f"  {count} x {message}")
    print()
    rules = judge(run, window, problems)
    for ok, text in rules:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for ok, _ in rules) else 1


async def main_async(server: str, source: str, args: argparse.Namespace) -> int:
    url = await create_scratch_database(server, "relance_load")
    name = url.partition("?")[0].rsplit("/", 1)[1]
    print(f"database: scratch {name} on {source}")
    app_server: Server | None = None
    admin: Any = None
    try:
        fixtures = await prepare(url)
        conn = await asyncpg.connect(plain(url))
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        print(
            f"PostgreSQL {version}; {len(fixtures.commitments)} demo commitments, "
            f"{len(fixtures.actions)} actions"
        )
        # Each client is a machine of its own (X-Forwarded-For from the local proxy address),
        # as 50 dashboards would be: the per-client limits count each one apart.
        app_server = Server(url, workers=args.workers, env={"FORWARDED_ALLOW_IPS": "127.0.0.1"})
        await app_server.wait_ready()
        print(
            f"app: relance serve --workers {args.workers} on {app_server.base_url}; "
            f"{os.cpu_count()} CPUs ({platform.machine()}), shared with PostgreSQL and the "
            f"clients"
        )
        print(
            f"{args.clients} clients (one httpx connection each) for {args.seconds:g} s, "
            f"{1 - WRITE_SHARE:.0%} reads / {WRITE_SHARE:.0%} writes, client timeout "
            f"{CLIENT_TIMEOUT:g} s, after a 503 a client waits min(Retry-After, "
            f"{BACKOFF_CAP:g} s)"
        )
        fault = None
        if args.fault:
            admin = await asyncpg.connect(plain(with_database(server, "postgres")))
            fault = outage(admin, name)
            print(
                f"fault: database closed at {OUTAGE_AT:.0%} of the run for "
                f"{OUTAGE_SECONDS:g} s (ALLOW_CONNECTIONS false + pg_terminate_backend)"
            )
        print(f"load average before: {load_average()}")
        run = Run(app_server.base_url, fixtures, args.seconds, args.max_requests)
        cpu_before = app_server.cpu_seconds()
        window = await run.go(args.clients, fault)
        cpu_after = app_server.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            cpu = cpu_after - cpu_before
            print(
                f"server CPU: {cpu:.1f} s over {args.seconds:g} s "
                f"({cpu * 1000 / max(1, len(run.ledger.samples)):.2f} ms per request); "
                f"load average after: {load_average()}"
            )
        conn = await asyncpg.connect(plain(url))
        try:
            problems = await verify_writes(conn, run.ledger, fixtures.bdt)
        finally:
            await conn.close()
        log = app_server.output()
        code = report(run, window, problems, log)
        if code:
            kept = Path(tempfile.gettempdir(), f"{name}-server.log")
            await asyncio.to_thread(kept.write_text, log)
            print(f"server log kept in {kept}")
        return code
    finally:
        if admin is not None:
            await set_connections(admin, name, True)
            await admin.close()
        if app_server is not None:
            app_server.stop()
        if args.keep:
            print(f"kept the scratch database: {url}")
        else:
            await drop_database(url)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the run")
    parser.add_argument("--fault", action="store_true", help="close the database for 5 s")
    parser.add_argument("--workers", type=int, default=1, help="relance serve --workers")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after these")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server, source = server_url()  # may start the embedded server: before the event loop
    return asyncio.run(main_async(server, source, args))


if __name__ == "__main__":
    sys.exit(main())
