"""Commitment reads on the driver (app.common.driver): a GET or a list that opens no transaction
of its own runs its one statement with asyncpg on a pooled connection, and keeps what the
SQLAlchemy path did: statement listeners (tracing) see every read, a statement timeout and a
refused connection are 503s, a connection the server closed is replaced, a cancelled read
never hands its connection on mid-transaction. The JSON is held equal to the read model's on
both paths by tests/commitments/test_row_json.py."""

from __future__ import annotations

import asyncio
import enum
import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Enum,
    Select,
    bindparam,
    event,
    literal,
    literal_column,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn

from app import db
from app.commitments.repository import CommitmentRepository
from app.commitments.router import ROWS
from app.common.repository import _driver_statement
from app.config import Settings
from app.main import attach_database, create_app
from devtools.scratch import plain
from tests.conftest import asgi_client, assert_problem
from tests.database import admin_url
from tests.factories import make_commitment


@asynccontextmanager
async def own_app(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """The app on an engine of its own (a fresh pool), with these settings changed."""
    db_changes = {k[4:]: v for k, v in changes.items() if k.startswith("db__")}
    top = {k: v for k, v in changes.items() if not k.startswith("db__")}
    own = settings.model_copy(update=top | {"db": settings.db.model_copy(update=db_changes)})
    engine = db.create_engine(own)
    application = create_app(own)
    attach_database(application, engine)
    try:
        yield application
    finally:
        await engine.dispose()


@asynccontextmanager
async def locked_commitments(settings: Settings) -> AsyncIterator[None]:
    """The commitments table locked by another session: reads of it wait."""
    locker = await asyncpg.connect(plain(settings.sqlalchemy_url()))
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE commitments IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await locker.close()


@dataclass(frozen=True)
class Stored:
    commitment: dict[str, Any]
    path: str


@pytest.fixture
async def stored(live_client: httpx.AsyncClient, live_admin: dict[str, str]) -> Stored:
    """One committed commitment and its URL."""
    commitment = await make_commitment(live_client, live_admin)
    return Stored(commitment, f"/v1/commitments/{commitment['id']}")


@pytest.mark.parametrize(
    "listened_to", ["before_cursor_execute", "after_cursor_execute", "handle_error"]
)
async def test_reads_run_on_the_driver_unless_statements_are_listened_to(
    listened_to: str,
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
    stored: Stored,
) -> None:
    commitment, path = stored.commitment, stored.path
    listed = {"action_id": commitment["action_id"]}
    seen: list[str] = []

    def record(*args: Any) -> None:
        if listened_to == "handle_error":  # called on errors only: note the statements
            return
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    engine = live_app.state.engine.sync_engine
    quiet = [await live_client.get(path), await live_client.get("/v1/commitments", params=listed)]
    event.listen(engine, listened_to, record)
    try:
        heard = [
            await live_client.get(path),
            await live_client.get("/v1/commitments", params=listed),
        ]
    finally:
        event.remove(engine, listened_to, record)
    after = await live_client.get(path)

    on_commitments = [s for s in seen if "FROM commitments" in s]
    if listened_to != "handle_error":
        assert len(on_commitments) == 2, seen  # one statement each, seen by the listener...
    assert len(on_driver) == 3, on_driver  # ...and not on the driver, which ran the three others
    assert all("FROM commitments" in s for s in on_driver)
    assert [r.json() for r in quiet] == [r.json() for r in heard]
    assert after.json() == quiet[0].json() == commitment


async def test_a_read_past_the_statement_timeout_is_a_503_and_the_connection_serves_on(
    settings: Settings,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
    stored: Stored,
) -> None:
    commitment, path = stored.commitment, stored.path
    async with own_app(settings, db__statement_timeout_ms=300) as app, asgi_client(app) as client:
        assert (await client.get(path)).status_code == 200
        async with locked_commitments(settings):
            blocked = await client.get(path)
            listed = await client.get("/v1/commitments", params={"limit": 5})
        again = await client.get(path)
        assert app.state.engine.pool.checkedout() == 0  # every connection went back
    for response in (blocked, listed):
        assert_problem(response, 503, "SERVICE_UNAVAILABLE")
        assert "took too long" in response.json()["detail"]
    assert again.status_code == 200
    assert again.json() == commitment
    assert len(on_driver) == 4  # all four reads took the driver's path


async def test_connections_the_server_closed_are_replaced(
    settings: Settings,
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
    stored: Stored,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 3600.0)  # no ping saves the first read
    commitment, path = stored.commitment, stored.path
    engine = live_app.state.engine
    held = [await engine.raw_connection() for _ in range(3)]  # three connections in the pool
    for raw in held:
        await greenlet_spawn(raw.close)
    admin = await asyncpg.connect(plain(settings.sqlalchemy_url()))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'relance-api'"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 3

    first = await live_client.get(path)
    after = [await live_client.get(path) for _ in range(4)]

    assert_problem(first, 503, "SERVICE_UNAVAILABLE")  # it ran on a closed connection
    assert [r.status_code for r in after] == [200] * 4  # the pool replaced them all
    assert after[0].json() == commitment
    assert len(on_driver) == 5


async def test_a_refused_connection_is_a_503(
    settings: Settings,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
    stored: Stored,
) -> None:
    commitment, path = stored.commitment, stored.path
    name = make_url(settings.sqlalchemy_url()).database
    server = await asyncio.to_thread(admin_url)  # another database: it may refuse ours
    admin = await asyncpg.connect(plain(server))
    try:
        async with own_app(settings) as app, asgi_client(app) as client:  # no connection yet
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                refused = await client.get(path)
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            served = await client.get(path)
    finally:
        await admin.close()
    assert_problem(refused, 503, "SERVICE_UNAVAILABLE")
    assert served.json() == commitment
    assert len(on_driver) == 2


async def test_a_cancelled_read_in_a_transaction_leaves_no_connection_in_it(
    settings: Settings,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
    stored: Stored,
) -> None:
    """Behind PgBouncer (DATABASE_PGBOUNCER) a read runs in its own transaction; a request
    cancelled while its statement waits must not put that connection, still in the
    transaction, back in the pool for the next request."""
    commitment, path = stored.commitment, stored.path
    async with own_app(settings, database_pgbouncer=True) as app, asgi_client(app) as client:
        async with locked_commitments(settings):
            with anyio.move_on_after(0.3) as scope:
                await client.get(path)
        assert scope.cancelled_caught
        answers = await asyncio.gather(*(client.get(path) for _ in range(3)))
        assert app.state.engine.pool.checkedout() == 0
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert [r.json() for r in answers] == [commitment] * 3
    assert len(on_driver) == 4


async def test_only_reads_of_their_own_leave_for_the_driver(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
) -> None:
    """A write's session (even before its first statement) and a read session already in a
    transaction keep their reads on their own connection; a fresh read session uses the
    driver. The rows are the same."""
    commitment = await make_commitment(live_client, live_admin)
    cid = uuid.UUID(commitment["id"])
    async with live_app.state.sessionmaker() as session:  # a write request's
        in_write = await CommitmentRepository(session).get_row(cid, ROWS.columns)
    async with live_app.state.read_sessionmaker() as session:
        await session.execute(text("SELECT 1"))  # its transaction has begun
        in_transaction = await CommitmentRepository(session).get_row(cid, ROWS.columns)
    assert on_driver == []
    async with live_app.state.read_sessionmaker() as session:
        on_its_own = await CommitmentRepository(session).get_row(cid, ROWS.columns)
    assert len(on_driver) == 1
    rows = [dict(row) for row in (in_write, in_transaction, on_its_own) if row is not None]
    assert len(rows) == 3
    assert rows == [rows[2]] * 3


LISTS: list[dict[str, Any]] = [
    {"status": ["committed", "planned"]},
    {"year": [2022, 2024], "instrument": "loan"},
    {"synthetic": "false", "status": "committed", "limit": 1},
    {"sort": "-amount", "limit": 2},
    {"sort": "year,-amount", "limit": 2},
    {"sort": "-year,amount", "year": [2022, 2023, 2025], "limit": 1},
]


def _sort_value(commitment: dict[str, Any], field: str) -> Any:
    return Decimal(commitment[field]) if field == "amount" else commitment[field]


def _expected(made: list[dict[str, Any]], query: dict[str, Any]) -> list[str]:
    """The ids the list should answer, in its order (a stable sort per key, last key first)."""
    rows = list(made)
    for field in ("status", "year", "instrument"):
        if field in query:
            wanted = query[field] if isinstance(query[field], list) else [query[field]]
            rows = [c for c in rows if c[field] in wanted]
    keys = [*(query.get("sort") or "-created_at").split(","), "-id"]
    for key in reversed(keys):
        rows.sort(key=functools.partial(_sort_value, field=key.lstrip("-")), reverse=key[0] == "-")
    return [c["id"] for c in rows]


@pytest.mark.parametrize("query", LISTS, ids=lambda q: "&".join(sorted(q)))
async def test_lists_on_the_driver_filter_sort_and_page_as_the_engine_does(
    query: dict[str, Any],
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    on_driver: list[str],
) -> None:
    """Filters expanded into one parameter a value, a boolean (none of these is synthetic),
    mixed sort directions and the cursor's values bound on every page: the driver's
    statements, page after page."""
    first = await make_commitment(live_client, live_admin, year=2022, amount="5.00")
    shapes = [
        {"year": 2023, "amount": "7.00", "status": "committed"},
        {"year": 2024, "amount": "7.00", "status": "planned", "instrument": "grant"},
        {"year": 2024, "amount": "3.00", "status": "committed"},
        {"year": 2025, "amount": "9.00", "status": "committed"},
        {"year": 2022, "amount": "1.00", "status": "cancelled", "instrument": "grant"},
    ]
    made = [first] + [
        await make_commitment(live_client, live_admin, action_id=first["action_id"], **shape)
        for shape in shapes
    ]
    params = query | {"action_id": first["action_id"]}
    listed: list[str] = []
    pages = 0
    while True:
        page = await live_client.get("/v1/commitments", params=params)
        assert page.status_code == 200, page.text
        listed += [c["id"] for c in page.json()["items"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        params = params | {"cursor": cursor}
    assert listed == _expected(made, query)
    assert len(on_driver) == pages


class Colour(enum.Enum):
    red = "r"
    blue = "b"


def test_the_driver_binds_as_the_engine_does() -> None:
    """Each value processed by its type as the engine would (an Enum next to an expanded
    IN list), names with spaces kept, and each dialect its own compiled text."""
    stmt: Select[Any] = select(literal_column("1")).where(
        bindparam("the colour", Colour.blue, type_=Enum(Colour)) == literal("blue", Enum(Colour)),
        literal_column("x").in_([3, 4]),
    )
    asyncpg_dialect = create_async_engine("postgresql+asyncpg://u@h/d").sync_engine.dialect
    driver = _driver_statement(stmt, None, asyncpg_dialect)
    assert driver is not None
    sql, args = driver
    assert args == ["blue", "blue", 3, 4]  # the Enum's names, as the engine sends them
    assert "$4" in sql
    # Another dialect compiles its own text (named parameters: the driver path declines it),
    # never the asyncpg text cached for the same statement.
    assert _driver_statement(stmt, None, PGDialect_psycopg2()) is None  # type: ignore[no-untyped-call]
