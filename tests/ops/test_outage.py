"""The database goes away and comes back: fast 503s, readiness follows, recovery without restart.
Two app instances over one database answer as one service."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings
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
