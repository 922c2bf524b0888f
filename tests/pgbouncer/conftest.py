"""A real PgBouncer (pool_mode = transaction, 3 server connections) in front of the test
server, started once per test process by devtools.pgbouncer, and an app that reaches its
database only through it (`DATABASE_PGBOUNCER=true`). Its writes commit for real."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from app.config import DatabaseSettings, RateLimitSettings, Settings
from app.db import create_engine
from app.main import attach_database, create_app
from devtools.pgbouncer import pgbouncer
from devtools.scratch import with_database
from tests.conftest import WORKER, asgi_client, seeded_database
from tests.database import admin_url, drop_database
from tests.processes import reserved_port

SERVER_CONNECTIONS = 3
"""PgBouncer's default_pool_size here: fewer than the app's pool, so that clients share them."""


@dataclass(frozen=True)
class Bounced:
    direct: str  # the test database, straight on the server
    through: str  # the same database through PgBouncer


@pytest.fixture(scope="session")
async def bounced() -> AsyncIterator[Bounced]:
    server = await asyncio.to_thread(admin_url)
    direct = await seeded_database(server, f"relance_bouncer_{WORKER}")
    name = direct.partition("?")[0].rsplit("/", 1)[1]
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(reserved_port())
        base = await asyncio.to_thread(
            stack.enter_context, pgbouncer(server, port, pool_size=SERVER_CONNECTIONS)
        )
        yield Bounced(direct, with_database(base, name))
    await drop_database(direct)


def bounced_settings(url: str, *, pgbouncer: bool = True) -> Settings:
    return Settings(
        database_url=url,  # type: ignore[arg-type]
        database_pgbouncer=pgbouncer,
        db=DatabaseSettings(command_timeout_seconds=60, pool_size=10),
        # One test client sends many aggregates at once: no per-client limit of heavy requests.
        rate_limit=RateLimitSettings(heavy_concurrent=0),
    )


@pytest.fixture
async def bouncer_app(bounced: Bounced) -> AsyncIterator[FastAPI]:
    settings = bounced_settings(bounced.through)
    app = create_app(settings)
    engine = create_engine(settings)
    attach_database(app, engine)
    yield app
    await engine.dispose()


@pytest.fixture
async def bouncer_client(bouncer_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(bouncer_app) as client:
        yield client
