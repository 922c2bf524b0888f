"""Concurrency regressions: optimistic locking under a crowd, and a pool that survives clients
hanging up in the middle of a request."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import make_commitment
from tests.processes import free_port


async def _add_one_euro(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    """Read, add 1.00 €, write with If-Match; on 412 read again. Returns the attempts made."""
    rng = random.Random()
    for attempt in range(1, 500):
        current = await client.get(url)
        assert current.status_code == 200, current.text
        body = current.json()
        amount = Decimal(body["amount"]) + Decimal("1.00")
        response = await client.patch(
            url, json={"amount": f"{amount:.2f}"}, headers=headers | {"If-Match": body["etag"]}
        )
        if response.status_code == 200:
            return attempt
        assert response.status_code == 412, response.text
        await asyncio.sleep(rng.random() * 0.01)
    raise AssertionError("never got through")


async def test_hundred_concurrent_increments_with_if_match_add_exactly_100_euros(
    live_client: httpx.AsyncClient, live_admin: dict[str, str]
) -> None:
    created = await make_commitment(live_client, live_admin, amount="1000.00")
    url = f"/v1/commitments/{created['id']}"
    attempts = await asyncio.gather(
        *(_add_one_euro(live_client, url, live_admin) for _ in range(100))
    )
    final = (await live_client.get(url)).json()
    assert final["amount"] == "1100.00"
    assert sum(attempts) >= 100
    assert final["etag"].endswith('-101"')  # one version per successful write, no lost update


async def test_pool_returns_to_baseline_after_clients_hang_up_mid_request(
    live_app: FastAPI, live_admin: dict[str, str], engine: AsyncEngine
) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(live_app, port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    pool = live_app.state.engine.pool
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            created = await make_commitment(client, live_admin)
        baseline = pool.checkedout()
        url = f"{base}/v1/commitments/{created['id']}"
        async with engine.connect() as blocker:
            await blocker.execute(
                text("SELECT 1 FROM commitments WHERE id = :id FOR UPDATE"), {"id": created["id"]}
            )
            # Ten writers block on the row lock, then hang up after 0.3 s.
            async with httpx.AsyncClient(timeout=0.3) as impatient:
                results = await asyncio.gather(
                    *(impatient.patch(url, json={"label": f"x{i}"}, headers=live_admin)
                      for i in range(10)),
                    return_exceptions=True,
                )  # fmt: skip
            assert all(isinstance(r, httpx.TimeoutException) for r in results)
            await blocker.rollback()
        for _ in range(100):
            if pool.checkedout() == baseline:
                break
            await asyncio.sleep(0.05)
        assert pool.checkedout() == baseline
        async with httpx.AsyncClient(base_url=base) as client:
            after = await client.get(f"/v1/commitments/{created['id']}")
            assert after.status_code == 200
    finally:
        server.should_exit = True
        await serving
