"""Concurrency regressions: optimistic locking under a crowd, and a pool that survives clients
hanging up in the middle of a request."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine
from app.main import attach_database, create_app
from tests.database import wait_for_lock_waits
from tests.factories import make_commitment

# Requests in flight at once. The crowd's pool has room for twice as many connections, so a
# busy machine makes the crowd slower, never short of connections (which answers 503).
WRITERS = 5


@pytest.fixture
async def crowd(live_app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with a pool of its own, sized for WRITERS; live_app cleans up."""
    db = settings.db.model_copy(update={"pool_size": 2 * WRITERS, "max_overflow": 0})
    sized = settings.model_copy(update={"db": db})
    app = create_app(sized)
    engine = create_engine(sized)
    attach_database(app, engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await engine.dispose()


async def _add_one_euro(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], gate: asyncio.Semaphore
) -> int:
    """Read, add 1.00 €, write with If-Match; on 412 read again. Returns the attempts made."""
    rng = random.Random()
    for attempt in range(1, 500):
        async with gate:
            current = await client.get(url)
            assert current.status_code == 200, current.text
            body = current.json()
            amount = Decimal(body["amount"]) + Decimal("1.00")
            response = await client.patch(
                url,
                json={"amount": f"{amount:.2f}"},
                headers=headers | {"If-Match": body["etag"]},
            )
        if response.status_code == 200:
            return attempt
        assert response.status_code == 412, response.text
        await asyncio.sleep(rng.random() * 0.01)
    raise AssertionError("never got through")


async def test_hundred_increments_by_concurrent_writers_with_if_match_add_exactly_100_euros(
    crowd: httpx.AsyncClient, live_admin: dict[str, str]
) -> None:
    created = await make_commitment(crowd, live_admin, amount="1000.00")
    url = f"/v1/commitments/{created['id']}"
    gate = asyncio.Semaphore(WRITERS)
    attempts = await asyncio.gather(
        *(_add_one_euro(crowd, url, live_admin, gate) for _ in range(100))
    )
    final = (await crowd.get(url)).json()
    assert final["amount"] == "1100.00"
    assert sum(attempts) > 100  # the writers collided: some If-Match were stale (412)
    assert final["etag"].endswith('-101"')  # one version per successful write, no lost update


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll `condition` until it holds or `seconds` have passed (a deadline, not a speed bar)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_pool_returns_to_baseline_after_clients_hang_up_mid_request(
    live_app: FastAPI, live_admin: dict[str, str], engine: AsyncEngine, database_url: str
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound here and handed over: no other process can take it
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(live_app, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    pool = live_app.state.engine.pool
    try:
        await _until(lambda: server.started or serving.done(), seconds=60)
        assert server.started, "the server did not start"
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            created = await make_commitment(client, live_admin)
        baseline = pool.checkedout()
        url = f"{base}/v1/commitments/{created['id']}"
        async with engine.connect() as blocker:
            await blocker.execute(
                text("SELECT 1 FROM commitments WHERE id = :id FOR UPDATE"), {"id": created["id"]}
            )
            # Ten writers block on the row lock, each holding a pooled connection; then their
            # clients hang up.
            impatient = httpx.AsyncClient(timeout=120)
            writers = [
                asyncio.create_task(
                    impatient.patch(url, json={"label": f"x{i}"}, headers=live_admin)
                )
                for i in range(10)
            ]
            await wait_for_lock_waits(database_url, 10)
            assert pool.checkedout() >= baseline + 10
            for writer in writers:
                writer.cancel()
            await asyncio.gather(*writers, return_exceptions=True)
            await impatient.aclose()
            await blocker.rollback()
        await _until(lambda: pool.checkedout() == baseline, seconds=60)
        assert pool.checkedout() == baseline
        async with httpx.AsyncClient(base_url=base) as client:
            after = await client.get(f"/v1/commitments/{created['id']}")
            assert after.status_code == 200
    finally:
        server.should_exit = True
        await serving
        listener.close()
