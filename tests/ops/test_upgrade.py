"""Upgrades as docs/operations.md tells them: the new release's migrations run first, while
the previous release's replicas still serve; they must stay ready on a schema that is ahead
of them, and only a schema behind the code takes a replica out of the load balancer."""

from __future__ import annotations

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import migrations
from app.config import Settings
from app.db import create_engine
from app.main import attach_database, create_app
from tests.conftest import assert_problem

NEWER_RELEASE_REVISION = "f0e1d2c3b4a5"  # a revision only a later release's code knows


async def _stamp(engine: AsyncEngine, revision: str | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM alembic_version"))
        if revision is not None:
            await conn.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision}
            )


async def test_readiness_follows_the_schema_relative_to_this_release(own_database: str) -> None:
    settings = Settings(database_url=own_database)  # type: ignore[arg-type]
    engine = create_engine(settings)
    app = create_app(settings)
    attach_database(app, engine)
    head = migrations.head_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(migrations.alembic_config()).get_revision(head)
    assert previous is not None
    # The head may be a merge point (a tuple of parents): any parent is a schema behind it.
    parents = previous.down_revision
    behind_revision = parents if isinstance(parents, str) else next(iter(parents or ()))
    assert isinstance(behind_revision, str)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            assert (await client.get("/readyz")).json()["revision"] == head

            # The next release has migrated: this (older) replica keeps serving.
            await _stamp(engine, NEWER_RELEASE_REVISION)
            ahead = await client.get("/readyz")
            assert ahead.status_code == 200, ahead.text
            assert ahead.json()["revision"] == NEWER_RELEASE_REVISION

            # This release rolled out before its migrations ran: not ready until they do.
            await _stamp(engine, behind_revision)
            behind = assert_problem(await client.get("/readyz"), 503)
            assert "relance migrate" in behind["detail"]

            await _stamp(engine, None)  # never migrated
            assert_problem(await client.get("/readyz"), 503)
    finally:
        await engine.dispose()
