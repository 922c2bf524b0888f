"""A stalled upload (a real socket that sends half a body, then nothing) is answered 408 after
BODY_READ_TIMEOUT_SECONDS, while it lasts the change feed keeps answering on a one-connection
pool: the body is read whole before any transaction opens."""

from __future__ import annotations

import asyncio
import json
import signal
import socket

import httpx

from tests.processes import free_port, relance, serve, wait_ready


def _stall(port: int, path: str, token: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"items": [' + b" " * 989)  # 1,000 of the 2,000 bytes
    return sock


def _answer(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


async def test_a_stalled_upload_gets_408_and_holds_no_connection(own_database: str) -> None:
    token = (
        relance(
            own_database, "keys", "create", "--role", "partner", "--partner", "BDT", "--name", "p"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    server = serve(
        own_database, port, BODY_READ_TIMEOUT_SECONDS="2", DB__POOL_SIZE="1", DB__MAX_OVERFLOW="0"
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        await asyncio.to_thread(wait_ready, base)
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as client:
            partners = (await client.get("/v1/partners", params={"limit": 50})).json()["items"]
            partner_id = next(p["id"] for p in partners if p["code"] == "BDT")
            sock = await asyncio.to_thread(
                _stall, port, f"/v1/partners/{partner_id}/commitments", token
            )
            answer = asyncio.create_task(asyncio.to_thread(_answer, sock))
            try:
                statuses = []
                while not answer.done():
                    statuses.append((await client.get("/v1/changes")).status_code)
                    await asyncio.sleep(0.05)
                raw = await answer
            finally:
                sock.close()
        assert statuses
        assert set(statuses) == {200}, statuses
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), raw[:300]
        assert b"application/problem+json" in head.lower()
        assert json.loads(body)["reason"] == "REQUEST_TIMEOUT"
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 20)
