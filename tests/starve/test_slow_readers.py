"""Slow readers of CSV exports (real sockets that ask for a multi-megabyte export, then read
nothing) hold no pooled connection: with 20 of them stalled, on a three-connection pool, every
other request still answers 200. A stalled export is cut after AGGREGATES__EXPORT_STALL_SECONDS
(the client gets fewer bytes than its Content-Length), and it counts among its client's heavy
requests until then: one more than RATE_LIMIT__HEAVY_CONCURRENT is a 429 with Retry-After."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx

from tests.database import plain
from tests.processes import serve, wait_ready

# Long titles make a big export of few cells: cheap to build, 20 times over, on a loaded machine.
ACTIONS = """
INSERT INTO actions (code, chantier_id, title, version)
SELECT format('SLOW-%s', g), c.ids[1 + g % array_length(c.ids, 1)],
       format('Action %s ', g) || repeat('x', 8000), 1
FROM generate_series(1, 500) AS g, (SELECT array_agg(id ORDER BY number) AS ids FROM chantiers) c
"""
COMMITMENTS = """
INSERT INTO commitments (action_id, partner_id, external_ref, year, amount, instrument, version)
SELECT a.ids[1 + g % array_length(a.ids, 1)], p.ids[1], 'SLOW-' || g, 2020 + g % 7, 1000 + g,
       'grant', 1
FROM generate_series(1, 500) AS g,
     (SELECT array_agg(id ORDER BY code) AS ids FROM actions WHERE code LIKE 'SLOW-%') AS a,
     (SELECT array_agg(id ORDER BY code) AS ids FROM partners WHERE code = 'BDT') AS p
"""
# 500 cells of 8 KB: a 4 MB export, more than the sockets' buffers hold.
EXPORT = "/v1/aggregates/commitments.csv?drilldown=action,year"
STALL_SECONDS = 25  # more than the 20 exports take to start on a loaded machine
ONE_HEAVY = "/v1/aggregates/commitments?drilldown=year"
CHECKED = "10.0.0.9"  # the address of the last two stalled exports


async def _load(url: str) -> None:
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute(ACTIONS)
        await conn.execute(COMMITMENTS)
    finally:
        await conn.close()


def _stalled_export(port: int, address: str) -> socket.socket:
    """Ask for the export as `address` (X-Forwarded-For, believed from 127.0.0.1 here) with a
    small receive buffer, wait for the status line (the export is spooled by then, its
    connection back in the pool), then read nothing more."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {EXPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {address}\r\n\r\n".encode()
    )
    status = sock.recv(12)
    assert status.startswith(b"HTTP/1.1 200"), status
    return sock


def _read_all(sock: socket.socket) -> tuple[int, int]:
    """Read to the end of the connection: (the Content-Length announced, body bytes received)."""
    received = b""
    while chunk := sock.recv(1 << 20):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return length, len(body)


async def test_stalled_csv_readers_leave_the_pool_free_and_are_cut_off(
    own_database: str, server_port: int
) -> None:
    await _load(own_database)
    server = serve(
        own_database,
        server_port,
        DB__POOL_SIZE="3",
        DB__MAX_OVERFLOW="0",
        DB__POOL_TIMEOUT_SECONDS="2",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        RATE_LIMIT__HEAVY_CONCURRENT="2",
        AGGREGATES__EXPORT_STALL_SECONDS=str(STALL_SECONDS),
    )
    base = f"http://127.0.0.1:{server_port}"
    stalled: list[socket.socket] = []
    try:
        await asyncio.to_thread(wait_ready, base, 120, server)
        # 20 slow readers, ten addresses with two each: every one at its client's limit. One
        # after the other: 20 at once would queue for the three connections while spooling.
        # The address checked below is the last one served, so that its two exports are the
        # newest: on a loaded machine the first exports may be cut before the last one starts.
        for i in range(20):
            if i == 20 - 2:
                started = time.monotonic()
            stalled.append(
                await asyncio.to_thread(_stalled_export, server_port, f"10.0.0.{i // 2}")
            )
        all_started = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            statuses = []
            for _ in range(3):  # more requests than the pool has connections, one at a time
                for path in ("/v1/commitments?limit=50", "/v1/changes", "/v1/summary", ONE_HEAVY):
                    statuses.append((await client.get(path)).status_code)
            assert set(statuses) == {200}, statuses

            third = await client.get(ONE_HEAVY, headers={"X-Forwarded-For": CHECKED})
            assert third.status_code == 429, third.text
            assert third.headers["content-type"].startswith("application/problem+json")
            assert json.loads(third.text)["reason"] == "TOO_MANY_CONCURRENT"
            assert int(third.headers["retry-after"]) >= 1
            elapsed = time.monotonic() - started
            assert elapsed < STALL_SECONDS, f"{elapsed:.1f} s: the checked exports were cut already"

            # The last export started `all_started` ago; past the stall bound, all are cut.
            await asyncio.sleep(all_started + STALL_SECONDS + 2 - time.monotonic())
            cut = await asyncio.gather(*(asyncio.to_thread(_read_all, s) for s in stalled))
            assert all(received < length for length, received in cut), cut
            # Abandoned exports no longer count against their client.
            again = await client.get(ONE_HEAVY, headers={"X-Forwarded-For": CHECKED})
            assert again.status_code == 200, again.text
            whole = await client.get(EXPORT)
            assert whole.status_code == 200
            assert len(whole.content) == int(whole.headers["content-length"]) > 3_000_000
    finally:
        for sock in stalled:
            sock.close()
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 20)
