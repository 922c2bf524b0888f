"""Migrations: models and migrations agree (alembic check), and a round trip on real data works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.programme.demo import demo
from app.programme.service import seed
from tests.database import admin_url, create_scratch_database, drop_database


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_mig")
    yield url
    await drop_database(url)


async def _table_count(url: str) -> int:
    engine = create_engine(Settings(database_url=url))  # type: ignore[arg-type]
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(database_url: str) -> None:
    await asyncio.to_thread(migrations.check, database_url)


async def test_round_trip_upgrade_downgrade_upgrade_with_data(scratch_url: str) -> None:
    settings = Settings(database_url=scratch_url)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
        report = await demo(session, settings)
    await engine.dispose()
    assert report.commitments > 0
    await asyncio.to_thread(migrations.downgrade, scratch_url, "base")
    assert await _table_count(scratch_url) == 1  # only alembic_version is left
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    assert await _table_count(scratch_url) == 15
    await asyncio.to_thread(migrations.check, scratch_url)
