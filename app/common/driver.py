"""Reads on the driver: one statement on a pooled connection's asyncpg connection, without
SQLAlchemy's session, execution context and result objects (about two thirds of a GET's
database cost: tests/commitments/test_driver_reads.py, bench/README.md). Repositories choose it
for plain row reads (app.common.repository); everything else keeps SQLAlchemy's path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn


def driver_engine(session: AsyncSession) -> AsyncEngine | None:
    """The engine a read of `session` may run on the driver directly (`driver_fetch`): the
    session's own, when the session holds no connection yet (a read opens no transaction of
    its own: inside one, its statements stay on its connection) and nothing listens to the
    engine's statements (tracing sees every statement, on SQLAlchemy's path); otherwise None."""
    bind = session.bind
    if session.in_transaction() or not isinstance(bind, AsyncEngine):
        return None
    if bind.sync_engine.dispatch.before_cursor_execute:
        return None
    return bind


async def driver_fetch(engine: AsyncEngine, sql: str, args: Sequence[Any]) -> list[Any]:
    """The rows of one read statement (asyncpg's records), run on a connection of `engine`'s
    pool with asyncpg itself: no session, no execution context, no result objects, the same
    connections, timeouts and prepared-statement cache. On an autocommit engine the statement
    runs alone; otherwise (behind PgBouncer) in a read-only transaction, which keeps its
    prepare and its execution on one server connection. A driver error is raised as SQLAlchemy
    raises it (`DBAPIError`, a lost connection invalidated), so the error path is the same."""
    raw = await engine.raw_connection()
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
    finally:
        await greenlet_spawn(raw.close)  # back to the pool, which may close it: awaits


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
