"""Reads on the driver: one statement on a pooled connection's asyncpg connection, without
SQLAlchemy's session, execution context and result objects (about two thirds of a GET's
database cost: tests/commitments/test_driver_reads.py, bench/README.md). Repositories choose it
for plain row reads (app.common.repository); everything else keeps SQLAlchemy's path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

READS = "relance_reads"
"""The execution option that marks an engine as the one of GET and HEAD sessions
(app.db.create_read_sessionmaker): only their reads may leave the session for the driver."""

_STATEMENT_EVENTS = (
    "before_execute", "after_execute", "before_cursor_execute", "after_cursor_execute",
)  # fmt: skip


def driver_engine(session: AsyncSession) -> AsyncEngine | None:
    """The engine a read of `session` may run on the driver directly (`driver_fetch`): the
    session's own, when it is a read session (GET, HEAD) that holds no connection yet (inside
    a transaction, statements stay on its connection), and when nothing watches the engine's
    statements (tracing, echo, statement events: they see every statement on SQLAlchemy's
    path) or rewrites them (a schema translation map); otherwise None."""
    bind = session.bind
    if session.in_transaction() or not isinstance(bind, AsyncEngine):
        return None
    options = bind.get_execution_options()
    if not options.get(READS) or options.get("schema_translate_map"):
        return None
    engine = bind.sync_engine
    if engine.echo or any(getattr(engine.dispatch, name) for name in _STATEMENT_EVENTS):
        return None
    if engine.dialect.dispatch.handle_error:  # an engine's handle_error listens on its dialect
        return None
    return bind


async def driver_fetch(engine: AsyncEngine, sql: str, args: Sequence[Any]) -> list[Any]:
    """The rows of one read statement (asyncpg's records), run on a connection of `engine`'s
    pool with asyncpg itself: no session, no execution context, no result objects, the same
    connections, timeouts and prepared-statement cache. On an autocommit engine the statement
    runs alone; otherwise (behind PgBouncer) in a read-only transaction, which keeps its
    prepare and its execution on one server connection.

    A driver error is raised as SQLAlchemy raises it (`DBAPIError`; on a lost connection the
    pool's connections replaced), so the error path is the same. A read that is cancelled or
    fails with its transaction still open leaves with its connection: it is closed, never
    handed to the next request in that state (as SQLAlchemy does)."""
    raw = await _checkout(engine)
    try:
        driver = raw.driver_connection
        assert driver is not None
        try:
            if engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                rows: list[Any] = await driver.fetch(sql, *args)
                return rows
            async with driver.transaction(readonly=True):
                rows = await driver.fetch(sql, *args)
                return rows
        except Exception as exc:
            error = await _driver_error(engine, raw, sql, args, exc)
            if error is exc:
                raise
            raise error from exc
        except BaseException as exc:  # cancelled: the statement may still be running
            with anyio.CancelScope(shield=True):
                await greenlet_spawn(raw.invalidate, exc)
            raise
    finally:
        with anyio.CancelScope(shield=True):  # returned even when the request is cancelled
            if raw.driver_connection is not None and raw.driver_connection.is_in_transaction():
                await greenlet_spawn(raw.invalidate)  # a ROLLBACK that did not happen
            await greenlet_spawn(raw.close)  # back to the pool, which may close it: awaits


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    """A pooled connection, connect errors raised as `Engine.connect` raises them."""
    dialect = engine.sync_engine.dialect
    try:
        return await engine.raw_connection()
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error,
            connection_invalidated=dialect.is_disconnect(exc, None, None), dialect=dialect,
        ) from exc  # fmt: skip


async def _driver_error(
    engine: AsyncEngine, raw: PoolProxiedConnection, sql: str, args: Sequence[Any], exc: Exception
) -> Exception:
    """`exc` as SQLAlchemy would have raised it: the dialect's DB-API translation of asyncpg's
    error wrapped in a DBAPIError; the connection invalidated when the driver closed it."""
    dialect = engine.sync_engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    driver = raw.driver_connection
    error: Exception
    try:
        raw.dbapi_connection._handle_exception(exc)  # type: ignore[union-attr]  # raises it
    except dbapi_error as translated:
        invalidated = driver is None or driver.is_closed()
        error = DBAPIError.instance(
            sql, tuple(args), translated, dbapi_error,
            connection_invalidated=invalidated, dialect=dialect,
        )  # fmt: skip
    except Exception:  # not the driver's own (a socket error, a timeout): as it is
        error = exc
    if driver is None or driver.is_closed():
        # As SQLAlchemy does on a disconnect: this connection and every one opened before it
        # are replaced (a restarted server closed them all), not only the one that failed.
        pool = engine.sync_engine.pool
        await greenlet_spawn(pool._invalidate, raw, exc)
    return error
