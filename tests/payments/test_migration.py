"""The payments migration on a database filled by `relance demo` at the previous head: every
non-zero disbursed_amount becomes one opening adjustment, nothing else moves, and a round trip
keeps every row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from app import migrations
from tests.database import admin_url, create_scratch_database, drop_database
from tests.test_migrations import _filled, _snapshot

BEFORE_PAYMENTS = "fa3634a3b29d"
PAYMENTS = "e9abd7853588"
AGGREGATE = (
    "SELECT c.partner_id, c.year, c.status, sum(c.amount), sum(c.disbursed_amount), count(*)"
    " FROM commitments c GROUP BY 1, 2, 3"
)


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_payments")
    yield url
    await drop_database(url)


async def test_upgrade_turns_each_total_into_one_opening_payment_and_round_trips(
    scratch_url: str,
) -> None:
    engine = await _filled(scratch_url, BEFORE_PAYMENTS)
    try:
        before = await _snapshot(engine)
        assert before["payments"] == []
        totals = {c["id"]: Decimal(c["disbursed_amount"]) for c in before["commitments"]}
        assert sum(1 for t in totals.values() if t) > 10  # the demo paid something

        await asyncio.to_thread(migrations.upgrade, scratch_url, PAYMENTS)
        upgraded = await _snapshot(engine)
        for table in set(before) - {"payments"}:  # commitments, roll-ups, history: as they were
            assert upgraded[table] == before[table], table
        openings = upgraded["payments"]
        assert {p["commitment_id"]: Decimal(p["amount"]) for p in openings} == {
            id: total for id, total in totals.items() if total
        }
        assert {p["kind"] for p in openings} == {"adjustment"}
        years = {c["id"]: c["year"] for c in before["commitments"]}
        assert all(int(p["paid_on"][:4]) >= years[p["commitment_id"]] for p in openings)
        async with engine.connect() as conn:
            aggregate = set((await conn.execute(text(AGGREGATE))).all())
            # The derived total equals the payments' sum, commitment by commitment.
            drift = await conn.execute(
                text(
                    "SELECT count(*) FROM commitments c WHERE c.disbursed_amount <> coalesce("
                    "(SELECT sum(CASE kind WHEN 'reversal' THEN -amount ELSE amount END)"
                    " FROM payments p WHERE p.commitment_id = c.id), 0)"
                )
            )
            assert drift.scalar_one() == 0

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_PAYMENTS)
        downgraded = await _snapshot(engine)
        assert downgraded == before  # payments gone, disbursed_amount kept
        await asyncio.to_thread(migrations.upgrade, scratch_url, PAYMENTS)
        assert await _snapshot(engine) == upgraded
        async with engine.connect() as conn:
            assert set((await conn.execute(text(AGGREGATE))).all()) == aggregate
    finally:
        await engine.dispose()
