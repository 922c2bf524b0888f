"""The database goes away and comes back: fast 503s, readiness follows, recovery without restart.
Two app instances over one database answer as one service."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import DatabaseSettings, Settings
from app.db import create_engine
from app.main import attach_database, create_app
from app.models.enums import Role
from tests.conftest import assert_problem
from tests.database import with_database


async def _allow_connections(url: str, allowed: bool) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    engine = create_engine(Settings(database_url=with_database(url, "postgres")))  # type: ignore[arg-type]
    async with engine.connect() as conn:
        await conn.execute(
            text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        )
        if not allowed:
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
        await conn.commit()
    await engine.dispose()


async def _serving(url: str) -> tuple[FastAPI, httpx.AsyncClient]:
    app = create_app(Settings(database_url=url))  # type: ignore[arg-type]
    attach_database(app, create_engine(app.state.settings))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    return app, client


async def test_outage_gives_fast_503_then_recovers_without_restart(own_database: str) -> None:
    app, client = await _serving(own_database)
    try:
        assert (await client.get("/v1/chantiers")).status_code == 200
        await _allow_connections(own_database, False)

        started = time.monotonic()
        during = await client.get("/v1/chantiers")
        assert time.monotonic() - started < 5
        assert_problem(during, 503, "SERVICE_UNAVAILABLE")
        assert int(during.headers["Retry-After"]) > 0
        assert_problem(await client.get("/readyz"), 503)
        assert (await client.get("/healthz")).status_code == 200
        write = await client.post(
            "/v1/partners",
            json={"code": "ZZ", "name": "z", "kind": "other"},
            headers={"Authorization": "Bearer rk_0123456789ab_secret"},
        )
        assert_problem(write, 503)  # the key lookup itself needs the database
        idempotent = await client.post(
            "/v1/partners",
            json={"code": "ZZ", "name": "z", "kind": "other"},
            headers={"Authorization": "Bearer rk_0123456789ab_secret", "Idempotency-Key": "k"},
        )
        assert_problem(
            idempotent, 503, "SERVICE_UNAVAILABLE"
        )  # claimed outside the routes: was a 500
        assert int(idempotent.headers["Retry-After"]) > 0

        await _allow_connections(own_database, True)
        assert (await client.get("/readyz")).status_code == 200
        after = await client.get("/v1/chantiers")
        assert after.status_code == 200
        assert len(after.json()["items"]) == 8
        assert app.state.engine.pool.checkedout() == 0
    finally:
        await client.aclose()
        await app.state.engine.dispose()


async def test_two_instances_over_one_database_answer_as_one(own_database: str) -> None:
    first, a = await _serving(own_database)
    second, b = await _serving(own_database)
    try:
        async with first.state.sessionmaker() as session, session.begin():
            _, token = await create_key(
                ApiKeyRepository(session), name="two", role=Role.admin, partner_id=None
            )
        headers = {"Authorization": f"Bearer {token}"}
        created = await a.post(
            "/v1/partners", json={"code": "TWO", "name": "Deux", "kind": "other"}, headers=headers
        )
        assert created.status_code == 201
        seen = await b.get(created.headers["Location"])
        assert seen.json() == created.json()
        url, stale = created.headers["Location"], headers | {"If-Match": created.headers["ETag"]}
        assert (await b.patch(url, json={"name": "B"}, headers=stale)).status_code == 200
        assert_problem(await a.patch(url, json={"name": "A"}, headers=stale), 412)
        page_a = (await a.get("/v1/partners", params={"limit": 1})).json()
        page_b = await b.get("/v1/partners", params={"limit": 1, "cursor": page_a["next_cursor"]})
        assert page_b.status_code == 200  # a cursor from one instance works on the other
    finally:
        for app, client in ((first, a), (second, b)):
            await client.aclose()
            await app.state.engine.dispose()


async def _wait_for_a_lock_wait(engine: AsyncEngine, deadline_seconds: float = 20) -> None:
    """Until a connection of the app (application_name relance-api) waits on a lock."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'relance-api' AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never waited on the lock")


async def test_an_exhausted_pool_is_service_busy_and_a_closed_database_unavailable(
    own_database: str,
) -> None:
    """One connection in the pool, held by a request waiting on a row lock: the next requests
    wait DB__POOL_TIMEOUT_SECONDS and get 503 SERVICE_BUSY, in the route and in the middleware
    alike; once the database is closed, the answer is SERVICE_UNAVAILABLE instead."""
    pool = DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_seconds=0.5)
    app = create_app(Settings(database_url=own_database, db=pool))  # type: ignore[arg-type]
    attach_database(app, create_engine(app.state.settings))
    holder = create_engine(Settings(database_url=own_database))  # type: ignore[arg-type]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    try:
        async with app.state.sessionmaker() as session, session.begin():
            _, token = await create_key(
                ApiKeyRepository(session), name="busy", role=Role.admin, partner_id=None
            )
        admin = {"Authorization": f"Bearer {token}"}
        amp = (await client.get("/v1/partners", params={"code": "AMP"})).json()["items"][0]
        async with holder.connect() as lock:
            await lock.execute(
                text("SELECT 1 FROM partners WHERE id = :id FOR UPDATE"), {"id": amp["id"]}
            )
            patch = asyncio.create_task(
                client.patch(f"/v1/partners/{amp['id']}", json={"name": "x"}, headers=admin)
            )
            await _wait_for_a_lock_wait(holder)  # the PATCH holds the only connection
            read = await client.get("/v1/chantiers")
            body = assert_problem(read, 503, "SERVICE_BUSY")
            assert body["detail"] == "The service is busy, retry."
            assert int(read.headers["Retry-After"]) > 0
            # The key lookup (authentication middleware) waits for the pool too.
            write = await client.post(
                "/v1/partners", json={"code": "Z", "name": "z", "kind": "other"}, headers=admin
            )
            assert_problem(write, 503, "SERVICE_BUSY")
            await lock.rollback()
        assert (await patch).status_code == 200
        assert (await client.get("/v1/chantiers")).status_code == 200

        await _allow_connections(own_database, False)
        closed = await client.get("/v1/chantiers")
        assert_problem(closed, 503, "SERVICE_UNAVAILABLE")
        await _allow_connections(own_database, True)
    finally:
        await client.aclose()
        await holder.dispose()
        await app.state.engine.dispose()
