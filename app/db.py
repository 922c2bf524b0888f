"""Engine and sessions: one session and one transaction per request, committed before the answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings

IDLE_BEFORE_PING_SECONDS = 2.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle; a busy pool skips the round
    trip that `pool_pre_ping` would pay on every checkout, and a dead connection is still
    replaced (DisconnectionError makes the pool retry with a new one)."""

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _checked_in(_: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # any failure: the connection is not usable
            raise DisconnectionError() from exc


def create_engine(settings: Settings) -> AsyncEngine:
    db = settings.db
    server_settings = {"application_name": "relance-api"}
    if db.statement_timeout_ms:
        server_settings["statement_timeout"] = str(db.statement_timeout_ms)
    engine = create_async_engine(
        settings.sqlalchemy_url(),
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        connect_args={"timeout": db.connect_timeout_seconds, "server_settings": server_settings},
    )
    _ping_idle_connections(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET and HEAD: autocommit, so a read costs no BEGIN and COMMIT round trips."""
    return create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the handler returns, roll back when it raises."""
    state = request.app.state
    if request.method in READ_METHODS:
        async with state.read_sessionmaker() as session:
            yield session
        return
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        for hook in getattr(state, "before_commit", ()):  # e.g. the Idempotency-Key mark
            await hook(request, session)
        await session.commit()


# scope="function": the commit runs before the response is sent, so a failed commit is a 5xx/4xx
# and never a 201 followed by a lost write.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
