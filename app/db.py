"""Engine and sessions: one session and one transaction per request, committed before the answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.common.principal import principal_of
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


def create_engine(settings: Settings, *, serving: bool = True) -> AsyncEngine:
    """The engine; `serving=False` (the relance commands: seed, demo, migrations) leaves a
    statement the server's statement_timeout alone instead of the per-round-trip bound that
    keeps a request from hanging on a database that stopped answering."""
    db = settings.db
    server_settings = {"application_name": "relance-api"}
    if db.statement_timeout_ms:
        server_settings["statement_timeout"] = str(db.statement_timeout_ms)
    engine = create_async_engine(
        settings.sqlalchemy_url(),
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        connect_args={
            "timeout": db.connect_timeout_seconds,  # connecting, startup and authentication
            # every later round trip
            "command_timeout": db.command_timeout_seconds if serving else None,
            "server_settings": server_settings,
        },
    )
    _ping_idle_connections(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET and HEAD: autocommit, so a read costs no BEGIN and COMMIT round trips."""
    return create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


READ_METHODS = frozenset({"GET", "HEAD"})


async def sign_writes(session: AsyncSession, name: str, role: str) -> None:
    """Name who writes, for this transaction only: the change-capture triggers copy it into the
    change log, where the history shows it as `actor`."""
    await session.execute(
        text(
            "SELECT set_config('relance.actor_name', :name, true),"
            " set_config('relance.actor_role', :role, true)"
        ),
        {"name": name, "role": role},
    )


class WriteClaim(Protocol):
    """What must commit together with a request's writes, or not at all.

    The Idempotency-Key middleware leaves one in request state (`WRITE_CLAIM`) before the route
    runs; `get_session` calls `mark_applied` in the request's own transaction just before its
    commit, then `mark_committed` once that commit succeeded. So the claim knows, without
    guessing from the status code, whether the request's writes are stored.
    """

    async def mark_applied(self, session: AsyncSession) -> None: ...

    def mark_committed(self) -> None: ...


WRITE_CLAIM = "write_claim"
"""The request-state key (`scope["state"]["write_claim"]`) of the request's WriteClaim."""


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the handler returns, roll back when it raises.

    A write transaction is signed with the caller's name (history) and carries the request's
    WriteClaim, if any, into its commit.
    """
    state = request.app.state
    if request.method in READ_METHODS:
        async with state.read_sessionmaker() as session:
            yield session
        return
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    principal = principal_of(request.scope)
    claim: WriteClaim | None = request.scope.get("state", {}).get(WRITE_CLAIM)
    async with sessionmaker() as session:
        try:
            if principal is not None:
                await sign_writes(session, principal.name, principal.role.value)
            yield session
        except BaseException:
            await session.rollback()
            raise
        if claim is not None:
            await claim.mark_applied(session)
        await session.commit()
        if claim is not None:
            claim.mark_committed()


# scope="function": the commit runs before the response is sent, so a failed commit is a 5xx/4xx
# and never a 201 followed by a lost write.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
