"""`relance serve --workers 2`: two processes behind one port, metrics added up across them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.ops.test_outage import own_database  # noqa: F401 (fixture)
from tests.ops.test_shutdown import _free_port

ROOT = Path(__file__).resolve().parents[2]
COUNTER = re.compile(
    r'^relance_http_requests_total\{method="GET",route="/v1/priorities",status="200"\} (\S+)$',
    re.M,
)


async def test_two_workers_serve_and_metrics_count_every_request(
    own_database: str,  # noqa: F811
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    server = subprocess.Popen(  # noqa: ASYNC220 (the server must outlive this await point)
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        env=env | {"DATABASE_URL": own_database},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # A fresh connection per request, so that both workers get some of them.
        async def get(path: str) -> httpx.Response:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                return await client.get(path)

        for _ in range(200):
            try:
                if (await get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        for _ in range(40):
            assert (await get("/v1/priorities")).status_code == 200
        counts = {float(m) for m in COUNTER.findall((await get("/metrics")).text)}
        assert counts == {40.0}  # whichever worker answers, it reports all 40
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 20)
