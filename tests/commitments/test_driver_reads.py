"""Commitment reads on the driver (app.common.driver): a GET or a list that opens no transaction
of its own runs its one statement with asyncpg on a pooled connection, and keeps what the
SQLAlchemy path did: statement listeners (tracing) see every read, a statement timeout is the
same 503, a connection the server closed is replaced. The JSON is held equal to the read
model's on both paths by tests/commitments/test_row_json.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.common import repository
from app.common.driver import driver_fetch
from app.config import Settings
from app.db import create_engine
from app.main import attach_database, create_app
from tests.conftest import asgi_client, assert_problem
from tests.factories import make_commitment


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_reads_run_on_the_driver_unless_statements_are_listened_to(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commitment = await make_commitment(live_client, live_admin)
    path = f"/v1/commitments/{commitment['id']}"
    listed = {"action_id": commitment["action_id"]}
    seen: list[str] = []
    on_driver: list[str] = []

    async def spied(engine: Any, sql: str, args: Any) -> list[Any]:
        on_driver.append(sql)
        return await driver_fetch(engine, sql, args)

    monkeypatch.setattr(repository, "driver_fetch", spied)  # the real one, counted

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    engine = live_app.state.engine.sync_engine
    quiet = [await live_client.get(path), await live_client.get("/v1/commitments", params=listed)]
    event.listen(engine, "before_cursor_execute", record)
    try:
        heard = [
            await live_client.get(path),
            await live_client.get("/v1/commitments", params=listed),
        ]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    after = await live_client.get(path)

    on_commitments = [s for s in seen if "FROM commitments" in s]
    assert len(on_commitments) == 2, seen  # one statement each, seen by the listener...
    assert len(on_driver) == 3, on_driver  # ...and not on the driver, which ran the three others
    assert all("FROM commitments" in s for s in on_driver)
    assert [r.json() for r in quiet] == [r.json() for r in heard]
    assert after.json() == quiet[0].json() == commitment


@pytest.fixture
async def slow_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app on an engine of its own whose statements time out after 300 ms."""
    db = settings.db.model_copy(update={"statement_timeout_ms": 300})
    own = settings.model_copy(update={"db": db})
    engine = create_engine(own)
    application = create_app(own)
    attach_database(application, engine)
    yield application
    await engine.dispose()


async def test_a_read_past_the_statement_timeout_is_a_503_and_the_connection_serves_on(
    settings: Settings,
    slow_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
) -> None:
    commitment = await make_commitment(live_client, live_admin)
    path = f"/v1/commitments/{commitment['id']}"
    locker = await asyncpg.connect(_plain(settings.sqlalchemy_url()))
    try:
        async with asgi_client(slow_app) as client:
            assert (await client.get(path)).status_code == 200
            async with locker.transaction():
                await locker.execute("LOCK TABLE commitments IN ACCESS EXCLUSIVE MODE")
                blocked = await client.get(path)
                listed = await client.get("/v1/commitments", params={"limit": 5})
            again = await client.get(path)
    finally:
        await locker.close()
    for response in (blocked, listed):
        assert_problem(response, 503, "SERVICE_UNAVAILABLE")
        assert "took too long" in response.json()["detail"]
    assert again.status_code == 200
    assert again.json() == commitment
    assert slow_app.state.engine.pool.checkedout() == 0  # every connection went back


async def test_connections_the_server_closed_are_replaced(
    settings: Settings,
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
) -> None:
    commitment = await make_commitment(live_client, live_admin)
    path = f"/v1/commitments/{commitment['id']}"
    warm = await asyncio.gather(*(live_client.get(path) for _ in range(4)))
    assert {r.status_code for r in warm} == {200}
    admin = await asyncpg.connect(_plain(settings.sqlalchemy_url()))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'relance-api'"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 1
    first = await live_client.get(path)
    if first.status_code != 200:  # a dead connection taken within 2 s of its use: not pinged
        assert_problem(first, 503, "SERVICE_UNAVAILABLE")
    after = [await live_client.get(path) for _ in range(4)]
    assert [r.status_code for r in after] == [200] * 4  # the pool replaced them all
    assert after[0].json() == commitment
