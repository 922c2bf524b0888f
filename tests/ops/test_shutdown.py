"""SIGTERM on a real `relance serve`: the request in flight completes, then the process exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text

from app.config import Settings
from app.db import create_engine
from tests.ops.test_outage import own_database  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _relance(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=os.environ | {"DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


async def test_sigterm_drains_the_request_in_flight(own_database: str) -> None:  # noqa: F811
    token = _relance("keys", "create", "--role", "admin", "--name", "drain", url=own_database)
    headers = {"Authorization": f"Bearer {token.stdout.strip().splitlines()[-1]}"}
    port = _free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 (the server must outlive this await point)
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=os.environ | {"DATABASE_URL": own_database, "SHUTDOWN_GRACE_SECONDS": "20"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    engine = create_engine(Settings(database_url=own_database))  # type: ignore[arg-type]
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(100):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            partner = await client.post(
                "/v1/partners",
                json={"code": "DRAIN", "name": "d", "kind": "other"},
                headers=headers,
            )
            assert partner.status_code == 201
            async with engine.connect() as blocker:
                # Hold the row so that the PATCH below is still running when SIGTERM arrives.
                await blocker.execute(
                    text("SELECT 1 FROM partners WHERE code = 'DRAIN' FOR UPDATE")
                )
                in_flight = asyncio.create_task(
                    client.patch(
                        partner.headers["Location"], json={"name": "drained"}, headers=headers
                    )
                )
                await asyncio.sleep(0.5)
                server.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                assert server.poll() is None, "the server quit with a request in flight"
                await blocker.rollback()
            response = await in_flight
            assert response.status_code == 200
            assert response.json()["name"] == "drained"
        # uvicorn re-raises SIGTERM once drained, so "killed by SIGTERM" is the clean exit here.
        assert await asyncio.to_thread(server.wait, 15) in (0, -signal.SIGTERM)
        output = server.stdout.read().decode() if server.stdout else ""
        assert "Finished server process" in output
    finally:
        if server.poll() is None:
            server.kill()
        await engine.dispose()
