"""SIGTERM on a real `relance serve`: the request in flight completes, then the process exits."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from sqlalchemy import text

from app.config import Settings
from app.db import create_engine
from tests.database import wait_for_lock_waits
from tests.processes import relance, serve, wait_ready


async def test_sigterm_drains_the_request_in_flight(
    own_database: str, server_port: int, tmp_path: Path
) -> None:
    token = relance(own_database, "keys", "create", "--role", "admin", "--name", "drain")
    headers = {"Authorization": f"Bearer {token.stdout.strip().splitlines()[-1]}"}
    port = server_port
    log = tmp_path / "serve.log"
    server = serve(own_database, port, log=log, SHUTDOWN_GRACE_SECONDS="20")
    engine = create_engine(Settings(database_url=own_database))  # type: ignore[arg-type]
    try:
        base = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_ready, base, process=server)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
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
                await wait_for_lock_waits(own_database)  # the PATCH waits for the row
                server.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                assert server.poll() is None, "the server quit with a request in flight"
                await blocker.rollback()
            response = await in_flight
            assert response.status_code == 200
            assert response.json()["name"] == "drained"
        # uvicorn re-raises SIGTERM once drained; relance turns it into exit status 143.
        assert await asyncio.to_thread(server.wait, 60) == 128 + signal.SIGTERM
        assert "Finished server process" in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
        await engine.dispose()
