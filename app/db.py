"""Engine and sessions: one session and one transaction per request, committed before the answer."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.common.driver import READS
from app.common.principal import principal_of
from app.config import Settings

logger = logging.getLogger("relance.db")

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


def _statement_name() -> str:
    """A name no other client of a PgBouncer server connection ever used."""
    return f"__relance_{uuid.uuid4().hex}__"


def create_engine(
    settings: Settings, *, serving: bool = True, url: str | None = None
) -> AsyncEngine:
    """The engine of DATABASE_URL (or of `url`: the replica's); `serving=False` (the relance
    commands: seed, demo, migrations) leaves a statement the server's statement_timeout alone
    instead of the per-round-trip bound that keeps a request from hanging on a database that
    stopped answering.

    Behind PgBouncer in transaction pooling mode (`DATABASE_PGBOUNCER`), nothing of a server
    connection survives from one transaction to the next: asyncpg's statement caches are off
    (a statement prepared on one server connection does not exist on the next one), each
    statement gets a name of its own (numbered names collide between the clients of one
    server connection), and statement_timeout is not sent at startup (PgBouncer 1.18 refuses
    the connection; set it on the role).

    JIT compilation is off for the service's sessions (sent at startup, or set on the role
    behind PgBouncer). PostgreSQL keeps a trigger statement's plan, with the cost estimated for
    the session's first transition table; after a batch of 10,000 rows that cost is above
    `jit_above_cost`, and every later one-row write on the connection compiled the roll-up
    upsert again (README, "How the aggregates stay fast and exact")."""
    db = settings.db
    server_settings = {"application_name": "relance-api"}
    connect_args: dict[str, Any] = {
        "timeout": db.connect_timeout_seconds,  # connecting, startup and authentication
        # every later round trip
        "command_timeout": db.command_timeout_seconds if serving else None,
        "server_settings": server_settings,
    }
    if settings.database_pgbouncer:
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _statement_name,
        }
    else:
        server_settings["jit"] = "off"
        if db.statement_timeout_ms:
            server_settings["statement_timeout"] = str(db.statement_timeout_ms)
    engine = create_async_engine(
        url or settings.sqlalchemy_url(),
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        connect_args=connect_args,
    )
    _ping_idle_connections(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(
    engine: AsyncEngine, *, autocommit: bool = True
) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET and HEAD: autocommit, so a read costs no BEGIN and COMMIT round trips;
    behind PgBouncer (`autocommit=False`) in a transaction, which keeps a statement's prepare
    and its execution on one server connection. Marked as reads (`READS`): a plain row read
    of theirs may run on the driver (app.common.driver)."""
    options: dict[str, Any] = {READS: True}
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    return create_sessionmaker(engine.execution_options(**options))


@dataclass(frozen=True)
class Replica:
    """The sessions of DATABASE_READ_URL: autocommit reads, and transactions (exports)."""

    read_sessionmaker: async_sessionmaker[AsyncSession]
    sessionmaker: async_sessionmaker[AsyncSession]


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
        if state.replica is not None:
            try:
                request.state.read_after = await wal_position(session)
            except SQLAlchemyError:  # committed all the same: answered, without a token
                logger.warning("no Relance-Read-After token: the WAL position was not read")


async def wal_position(session: AsyncSession) -> str:
    """The primary's WAL position, read after a commit: a replica that has replayed up to it
    shows that commit (the commit record lies before it)."""
    return str(await session.scalar(text("SELECT pg_current_wal_lsn()::text")))


async def has_replayed(session: AsyncSession, position: str) -> bool:
    """Whether the server of `session` shows every commit before this WAL position: a replica
    that replayed that far, or a primary (nothing to replay)."""
    replayed = await session.scalar(
        text(
            "SELECT coalesce(pg_last_wal_replay_lsn()"
            " >= CAST(CAST(:position AS text) AS pg_lsn), true)"
        ),
        {"position": position},
    )
    return bool(replayed)


READ_AFTER = "Relance-Read-After"
"""The header of read-your-writes: a write's answer carries the primary's WAL position after its
commit; a read that sends it back is served by the replica only once the replica has replayed
that far, otherwise by the primary."""

ReadAfter = Annotated[
    str | None,
    Header(
        alias=READ_AFTER,
        pattern=r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$",
        description=(
            "The `Relance-Read-After` header of your last write's answer: this read then shows "
            "that write (and everything committed before it), from a replica that has caught "
            "up or else from the primary. Without it a read may lag behind the primary by the "
            "replica's delay (when the service has a read replica)."
        ),
    ),
]


@dataclass(frozen=True)
class Reads:
    """Where a read-only route reads: `session` (autocommit) and `sessionmaker`
    (transactions, for exports) on the replica when there is one and it has replayed the
    client's `Relance-Read-After`, otherwise on the primary; `primary` opens read sessions on
    the primary, for what the replica has not replayed yet (a feed cursor)."""

    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]
    primary: async_sessionmaker[AsyncSession]
    on_replica: bool


async def get_reads(request: Request, read_after: ReadAfter = None) -> AsyncIterator[Reads]:
    state = request.app.state
    replica: Replica | None = state.replica
    primary: async_sessionmaker[AsyncSession] = state.read_sessionmaker
    if replica is not None and request.method in READ_METHODS:
        async with replica.read_sessionmaker() as session:
            if read_after is None or await has_replayed(session, read_after):
                yield Reads(session, replica.sessionmaker, primary, on_replica=True)
                return
    async with primary() as session:
        yield Reads(session, state.sessionmaker, primary, on_replica=False)


async def _replica_session(
    reads: Annotated[Reads, Depends(get_reads, scope="function")],
) -> AsyncSession:
    return reads.session


ReplicaReads = Annotated[Reads, Depends(get_reads, scope="function")]
"""The read routing of a list, an aggregate, an export or the feed (see Reads)."""

ReplicaSession = Annotated[AsyncSession, Depends(_replica_session, scope="function")]
"""The session of a list or an aggregate: on the replica when there is one (see Reads); GET of
one resource and every read inside a write stay on the primary (`Session`), so that an ETag
sent back in `If-Match` is the current one."""

# scope="function": the commit runs before the response is sent, so a failed commit is a 5xx/4xx
# and never a 201 followed by a lost write.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
