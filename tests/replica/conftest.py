"""A real streaming replica for these tests: a primary made with initdb and its hot standby
made with `pg_basebackup -R` (devtools.replica), of the test server's major version, started
once per test process; and an app whose lists, aggregates, exports and feed read the replica."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from app.config import DatabaseSettings, Settings
from app.db import create_engine
from app.main import attach_database, create_app
from devtools.replica import Pair, resume_replay, streaming_pair, wait_replayed
from tests.conftest import WORKER, asgi_client, seeded_database
from tests.database import admin_url, server_major


@dataclass(frozen=True)
class Servers:
    primary: str  # the test database on the primary
    replica: str  # the same database, on the replica


@pytest.fixture(scope="session")
async def replica_pair() -> AsyncIterator[Pair]:
    major = await server_major(await asyncio.to_thread(admin_url))
    with contextlib.ExitStack() as stack:
        yield await asyncio.to_thread(stack.enter_context, streaming_pair(major))


@pytest.fixture(scope="session")
async def servers(replica_pair: Pair) -> Servers:
    primary = await seeded_database(replica_pair.primary_url(), f"relance_replica_{WORKER}")
    name = primary.partition("?")[0].rsplit("/", 1)[1]
    servers = Servers(primary, replica_pair.replica_url(name))
    await wait_replayed(servers.primary, servers.replica)
    return servers


@pytest.fixture
async def replica_app(servers: Servers) -> AsyncIterator[FastAPI]:
    """An app on the primary whose lists, aggregates, exports and feed read the replica; its
    writes commit (nothing is rolled back: tests use codes of their own). Replay runs again
    after each test, whatever the test paused."""
    settings = Settings(
        database_url=servers.primary,  # type: ignore[arg-type]
        database_read_url=servers.replica,  # type: ignore[arg-type]
        db=DatabaseSettings(command_timeout_seconds=60),
    )
    read_url = settings.sqlalchemy_read_url()
    assert read_url is not None
    app = create_app(settings)
    engine, read_engine = create_engine(settings), create_engine(settings, url=read_url)
    attach_database(app, engine, read_engine=read_engine)
    yield app
    await resume_replay(servers.replica)
    await engine.dispose()
    await read_engine.dispose()


@pytest.fixture
async def replica_client(replica_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(replica_app) as client:
        yield client
