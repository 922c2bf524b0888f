"""Engine and sessions: one session and one transaction per request, committed before the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    db = settings.db
    server_settings = {"application_name": "relance-api"}
    if db.statement_timeout_ms:
        server_settings["statement_timeout"] = str(db.statement_timeout_ms)
    return create_async_engine(
        settings.sqlalchemy_url(),
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={"timeout": db.connect_timeout_seconds, "server_settings": server_settings},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the handler returns, roll back when it raises."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


# scope="function": the commit runs before the response is sent, so a failed commit is a 5xx/4xx
# and never a 201 followed by a lost write.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
