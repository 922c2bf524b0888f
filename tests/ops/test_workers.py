"""`relance serve --workers 2`: two processes behind one port, metrics added up across them."""

from __future__ import annotations

import asyncio
import re
import signal

import httpx

from tests.processes import serve, wait_ready

COUNTER = re.compile(
    r'^relance_http_requests_total\{method="GET",route="/v1/priorities",status="200"\} (\S+)$',
    re.M,
)


async def test_two_workers_serve_and_metrics_count_every_request(
    own_database: str, server_port: int
) -> None:
    port = server_port
    server = serve(own_database, port, "--workers", "2")
    try:
        # A fresh connection per request, so that both workers get some of them.
        async def get(path: str) -> httpx.Response:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                return await client.get(path)

        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}", process=server)
        for _ in range(40):
            assert (await get("/v1/priorities")).status_code == 200
        counts = {float(m) for m in COUNTER.findall((await get("/metrics")).text)}
        assert counts == {40.0}  # whichever worker answers, it reports all 40
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 60)
