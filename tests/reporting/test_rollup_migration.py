"""The roll-up migrations backfill existing commitments and downgrade cleanly."""

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
from tests.reporting import oracle

BEFORE = "a3f1c2d4e5b6"
GROUPED = (
    "SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,"
    " sum(c.amount) AS amount_sum, sum(c.disbursed_amount) AS disbursed_sum,"
    " count(*) AS commitment_count"
    " FROM commitments c JOIN actions a ON a.id = c.action_id GROUP BY 1, 2, 3, 4, 5"
)
ROLLUP = (
    "SELECT chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum,"
    " commitment_count"
    " FROM commitment_rollups"
)


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_rollup")
    yield url
    await drop_database(url)


async def test_upgrade_backfills_the_rollup_from_existing_commitments(scratch_url: str) -> None:
    settings = Settings(database_url=scratch_url)  # type: ignore[arg-type]
    # Today's services write at head only: the data is made there, then migrated down.
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    engine = create_engine(settings, serving=False)  # the demo runs long, as `relance demo`
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
            report = await demo(session, settings)
        assert report.commitments > 0
        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE)
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        async with engine.connect() as conn:
            grouped = set((await conn.execute(text(GROUPED))).all())
            rolled = set((await conn.execute(text(ROLLUP))).all())
            assert rolled == grouped
            assert sum(row.commitment_count for row in rolled) == report.commitments
        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE)
        async with engine.connect() as conn:
            left = await conn.execute(text("SELECT to_regclass('commitment_rollups')"))
            assert left.scalar_one() is None
            count = await conn.execute(text("SELECT count(*) FROM commitments"))
            assert count.scalar_one() == report.commitments
    finally:
        await engine.dispose()


BEFORE_TERRITORIAL = "9e4c2a7b1d53"
TERRITORIAL = (
    "SELECT territory, sum(amount_sum) FILTER (WHERE status = 'planned') AS planned,"
    " sum(amount_sum) FILTER (WHERE status = 'committed') AS committed,"
    " sum(disbursed_sum) FILTER (WHERE status = 'committed') AS disbursed,"
    " sum(commitment_count) AS count"
    " FROM territorial_rollups WHERE level = :level GROUP BY territory"
)


async def test_upgrade_backfills_the_territorial_rollup_as_the_shares_split(
    scratch_url: str,
) -> None:
    """Each level's sums equal an independent split of every commitment over its communes."""
    settings = Settings(database_url=scratch_url)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    engine = create_engine(settings, serving=False)  # the demo runs long, as `relance demo`
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
            report = await demo(session, settings)
        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_TERRITORIAL)
        async with engine.connect() as conn:
            gone = await conn.execute(text("SELECT to_regclass('territorial_rollups')"))
            assert gone.scalar_one() is None
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        async with engine.connect() as conn:
            data = await oracle.load(conn)
            for level in oracle.TERRITORIAL:
                expected, _ = oracle.aggregate(data, [level], {})
                got = {}
                for row in (await conn.execute(text(TERRITORIAL), {"level": level})).all():
                    got[(row.territory or None,)] = (
                        f"{row.planned or 0:.2f}",
                        f"{row.committed or 0:.2f}",
                        f"{row.disbursed or 0:.2f}",
                        row.count,
                    )
                want = {
                    key: (cell["planned"], cell["committed"], cell["disbursed"], cell["count"])
                    for key, cell in expected.items()
                }
                assert got == want, level
                assert len(got) > (1 if level == "commune" else 0), level  # the demo: one EPCI
            assert len(data.commitments) == report.commitments
    finally:
        await engine.dispose()
