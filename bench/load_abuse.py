"""Abuse next to a well-behaved client: does anyone starve? (`make load-abuse`)

    .venv/bin/python -m bench.load_abuse [--seconds 12] [--clients 2]

Makes a scratch database (as bench.load: LOAD_DATABASE_URL, BENCH_DATABASE_URL,
TEST_DATABASE_URL, else the embedded server) with the reference seed, the demo data and 40,000
more commitments over 2,000 more actions; serves the app with `relance serve` on 127.0.0.1,
with FORWARDED_ALLOW_IPS=127.0.0.1 so that each abuser can name its own client address in
X-Forwarded-For (the well-behaved clients send none: they are 127.0.0.1). Then, for each abuse,
a quiet phase (the well-behaved clients alone) and an abused phase (the same clients, next to
the abuse), alternated, `--seconds` each. The well-behaved clients are bench.load's: one
connection each, 80 % reads (lists, GET one, aggregates by chantier and year, the summary, the
change feed), 20 % writes, 10 s timeout; the abuse runs in a process of its own. Printed per
abuse: their requests, errors (an unexpected status or no answer) and p99, next to the quiet
phase just before. Goal: 0 errors and p99 <= 2x quiet. Loopback only; stops by itself (about
2 x 5 x --seconds plus set-up). Exits 1 when an abuse gave the well-behaved clients an error.

The abuses, as issue 10 reported them:
- slow CSV readers: 20 sockets from one address ask for a CSV export, then read nothing;
- stalled upload: 5 sockets with the partner key send half a 10,000-item batch, then nothing;
- huge error bodies: 2 clients with the partner key POST 8 MB of unknown fields, in a loop;
- expensive aggregates: 8 anonymous clients from one address loop over the nine-dimension
  drilldown (JSON, 10,000 cells a page) and its CSV;
- deeply nested JSON: 2 clients with the partner key PUT 2 KB of nested arrays, in a loop.
A hung database is not among them: it fails every client alike (503 within
DB__COMMAND_TIMEOUT_SECONDS), which tests/starve/test_hung_database.py checks.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx

from app.ops.logs import error_entries
from bench.common import Server, percentile
from bench.crud import LOAD_ACTIONS, LOAD_COMMITMENTS
from bench.load import Run, prepare, server_url
from bench.load_client import Fixtures
from devtools.scratch import create_scratch_database, drop_database, plain

EXTRA_ACTIONS = 2_000
EXTRA_COMMITMENTS = 40_000
NINE = "priority,chantier,action,partner,partner_kind,year,status,instrument,commune"
EXPORT = "/v1/aggregates/commitments.csv?drilldown=action,partner,year,status,instrument"
ABUSER = "203.0.113.7"  # the address the abusers claim (X-Forwarded-For), one for them all


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    base_url: str
    fixtures: Fixtures


Abuse = Callable[[Target, asyncio.Event, Counter[str]], Coroutine[Any, Any, None]]


# -- the abuses ------------------------------------------------------------------------------


async def _open(target: Target, request: bytes, rcvbuf: int = 4096) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # fills up at once
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (target.host, target.port))
    await loop.sock_sendall(sock, request)
    return sock


async def slow_readers(target: Target, stop: asyncio.Event, seen: Counter[str]) -> None:
    request = (
        f"GET {EXPORT} HTTP/1.1\r\nHost: {target.host}\r\nX-Forwarded-For: {ABUSER}\r\n\r\n"
    ).encode()
    sockets = [await _open(target, request) for _ in range(20)]
    seen["sockets held, reading nothing"] += len(sockets)
    await stop.wait()
    for sock in sockets:
        sock.close()


async def stalled_uploads(target: Target, stop: asyncio.Event, seen: Counter[str]) -> None:
    path = f"/v1/partners/{target.fixtures.bdt}/commitments"
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: {target.host}\r\n"
        f"Authorization: Bearer {target.fixtures.partner}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
    ).encode()
    sockets = [await _open(target, head + b'{"items": [' + b" " * 500_000) for _ in range(5)]
    seen["uploads stalled at 25 %"] += len(sockets)
    await stop.wait()
    for sock in sockets:
        sock.close()


async def _loop(
    target: Target,
    stop: asyncio.Event,
    seen: Counter[str],
    clients: int,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
) -> None:
    async def one() -> None:
        async with httpx.AsyncClient(base_url=target.base_url, timeout=30) as http:
            while not stop.is_set():
                try:
                    response = await send(http)
                    seen[f"{response.status_code} {_reason(response)}".strip()] += 1
                except httpx.HTTPError as exc:
                    seen[type(exc).__name__] += 1

    await asyncio.gather(*(one() for _ in range(clients)))


def _reason(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return str(response.json().get("reason", ""))
    return ""


async def huge_error_bodies(target: Target, stop: asyncio.Event, seen: Counter[str]) -> None:
    fields = ",".join(f'"f{i}":0' for i in range(700_000))  # about 7.9 MB
    body = ("{" + fields + "}").encode()
    headers = {
        "Authorization": f"Bearer {target.fixtures.partner}",
        "Content-Type": "application/json",
    }

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post("/v1/commitments", content=body, headers=headers)

    await _loop(target, stop, seen, 2, send)


async def expensive_aggregates(target: Target, stop: asyncio.Event, seen: Counter[str]) -> None:
    paths = [
        f"/v1/aggregates/commitments?drilldown={NINE}&page_size=10000",
        f"/v1/aggregates/commitments.csv?drilldown={NINE}",
        EXPORT,
    ]
    turn = 0

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        nonlocal turn
        turn += 1
        return await http.get(paths[turn % len(paths)], headers={"X-Forwarded-For": ABUSER})

    await _loop(target, stop, seen, 8, send)


async def nested_json(target: Target, stop: asyncio.Event, seen: Counter[str]) -> None:
    body = '{"items": [{"amount": ' + "[" * 1000 + "]" * 1000 + "}]}"
    path = f"/v1/partners/{target.fixtures.bdt}/commitments"
    headers = {
        "Authorization": f"Bearer {target.fixtures.partner}",
        "Content-Type": "application/json",
    }

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.put(path, content=body, headers=headers)

    await _loop(target, stop, seen, 2, send)


ABUSES: dict[str, Abuse] = {
    "slow CSV readers (20 sockets)": slow_readers,
    "stalled uploads (5, partner key)": stalled_uploads,
    "huge error bodies (2 x 8 MB loop)": huge_error_bodies,
    "expensive aggregates (8 anonymous)": expensive_aggregates,
    "deeply nested JSON (2 x loop)": nested_json,
}


# -- phases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    requests: int
    errors: int
    p99_ms: float
    statuses: Counter[str]


def _abuse_process(name: str, target: Target, seconds: float, out: Any) -> None:
    """Run one abuse in a process of its own for `seconds`: in the measuring process, its
    uploads and downloads would slow the well-behaved clients' event loop, not the server."""

    async def run() -> Counter[str]:
        stop = asyncio.Event()
        seen: Counter[str] = Counter()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await ABUSES[name](target, stop, seen)
        return seen

    out.put(dict(asyncio.run(run())))


async def phase(
    target: Target, seconds: float, clients: int, abuse: str | None
) -> tuple[Phase, Counter[str]]:
    run = Run(target.base_url, target.fixtures, seconds, 1_000_000)
    process: Any = None
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    if abuse is not None:
        process = context.Process(
            target=_abuse_process, args=(abuse, target, seconds + 2.0, results)
        )
        process.start()
        await asyncio.sleep(2.0)  # the abuse in place before the measure starts
    await run.go(clients, None)
    seen: Counter[str] = Counter()
    if process is not None:
        seen.update(await asyncio.to_thread(results.get, True, 60))
        await asyncio.to_thread(process.join, 30)
    samples = run.ledger.samples
    latencies = sorted(s.seconds for s in samples)
    statuses = Counter(str(s.status or s.error) for s in samples if not s.expected)
    errors = sum(not s.expected for s in samples)
    return Phase(len(samples), errors, percentile(latencies, 0.99) * 1000, statuses), seen


async def load_more(url: str) -> None:
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute(LOAD_ACTIONS, EXTRA_ACTIONS)
        await conn.execute(LOAD_COMMITMENTS, EXTRA_COMMITMENTS)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def main_async(server: str, source: str, args: argparse.Namespace) -> int:
    url = await create_scratch_database(server, "relance_abuse")
    print(f"database: scratch {url.partition('?')[0].rsplit('/', 1)[1]} on {source}")
    app_server: Server | None = None
    try:
        fixtures = await prepare(url)
        await load_more(url)
        print(
            f"demo data + {EXTRA_COMMITMENTS:,} commitments over {EXTRA_ACTIONS:,} actions; "
            f"{os.cpu_count()} CPUs shared by the server, PostgreSQL and the clients"
        )
        app_server = Server(url, env={"FORWARDED_ALLOW_IPS": "127.0.0.1"})
        await app_server.wait_ready()
        target = Target("127.0.0.1", app_server.port, app_server.base_url, fixtures)
        print(
            f"{args.clients} well-behaved clients (bench.load's mix) from 127.0.0.1; abusers "
            f"from {ABUSER}; {args.seconds:g} s a phase, quiet and abused alternated\n"
        )
        await phase(target, min(5.0, args.seconds), args.clients, None)  # warm-up
        rows: list[tuple[str, Phase, Phase, Counter[str]]] = []
        for name in ABUSES:
            quiet, _ = await phase(target, args.seconds, args.clients, None)
            abused, seen = await phase(target, args.seconds, args.clients, name)
            rows.append((name, quiet, abused, seen))
            print(
                f"{name}: quiet p99 {quiet.p99_ms:.0f} ms, abused p99 {abused.p99_ms:.0f} ms, "
                f"errors {abused.errors}; abuser got {dict(seen.most_common(4))}",
                flush=True,
            )
        return report(rows, app_server.output())
    finally:
        if app_server is not None:
            app_server.stop()
        await drop_database(url)


def report(rows: Sequence[tuple[str, Phase, Phase, Counter[str]]], log: str) -> int:
    print()
    header = "| abuse | quiet: requests, errors, p99 | abused: requests, errors, p99 | p99 ratio |"
    print(header)
    print("|---|---|---|---:|")
    failed = False
    for name, quiet, abused, _ in rows:
        ratio = abused.p99_ms / quiet.p99_ms if quiet.p99_ms else float("inf")
        ok = abused.errors == 0 and ratio <= 2.0
        failed |= abused.errors > 0
        print(
            f"| {name} | {quiet.requests:,}, {quiet.errors}, {quiet.p99_ms:.0f} ms | "
            f"{abused.requests:,}, {abused.errors}, {abused.p99_ms:.0f} ms | "
            f"{ratio:.2f}x{'' if ok else ' (over the goal)'} |"
        )
        if abused.errors:
            print(f"  errors: {dict(abused.statuses)}")
    errors = error_entries(log)
    print(f"\nserver error-level log lines: {len(errors)}")
    for entry in errors[:5]:
        print(f"  {str(entry)[:200]}")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load_abuse", description=__doc__)
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=2, help="well-behaved clients")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server, source = server_url()  # may start the embedded server: before the event loop
    started = time.monotonic()
    code = asyncio.run(main_async(server, source, args))
    print(f"done in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
