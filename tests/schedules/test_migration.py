"""The schedules revision on a demo database: every commitment gets its one line and version 1,
and upgrade → downgrade → upgrade keeps every row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app import migrations
from tests.database import admin_url, create_scratch_database, drop_database
from tests.test_migrations import INDICATORS, RESULTS, SUMMARIES, _filled, _snapshot

BEFORE_SCHEDULES = "fa3634a3b29d"
# Going down there also undoes the payments' rules (a sibling revision: its opening payments,
# derived from the totals, go and come back with new ids) and the cash-flow roll-ups (derived
# data, dropped and rebuilt): what this test compares is everything else.
SIBLINGS = ("payments", "cashflow_rollups")
# The tables of later revisions (what the money buys, the staged removals of the cash-flow
# roll-ups): empty here, and gone below the head.
LATER = ("milestones", "cashflow_rollup_removals", *RESULTS, *INDICATORS, *SUMMARIES)


def _ours(snapshot: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    kept = {
        table: rows
        for table, rows in snapshot.items()
        if table not in SIBLINGS and table not in LATER
    }
    kept["changes"] = [c for c in kept["changes"] if c["resource"] != "payments"]
    return kept


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_sched_mig")
    yield url
    await drop_database(url)


async def test_backfill_gives_every_commitment_its_line_and_version_and_round_trips(
    scratch_url: str,
) -> None:
    engine = await _filled(scratch_url, BEFORE_SCHEDULES)
    try:
        # At the previous revision the tables are empty (written at head, then migrated down:
        # empty them as a database of that revision has them).
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM schedule_versions"))
            await conn.execute(text("DELETE FROM schedule_lines"))
        before = _ours(await _snapshot(engine))
        assert before["commitments"]
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        upgraded = _ours(await _snapshot(engine))
        for table in set(before) - {"schedule_lines", "schedule_versions"}:
            assert upgraded[table] == before[table], table  # history and roll-ups untouched
        commitments = {c["id"]: c for c in before["commitments"]}
        assert sorted(
            (line["commitment_id"], line["year"], line["amount"])
            for line in upgraded["schedule_lines"]
        ) == sorted((id, c["year"], c["amount"]) for id, c in commitments.items())
        assert len(upgraded["schedule_versions"]) == len(commitments)
        for version in upgraded["schedule_versions"]:
            c = commitments[version["commitment_id"]]
            assert (version["number"], version["kind"]) == (1, "initial")
            assert version["lines"] == [{"year": c["year"], "amount": f"{c['amount']:.2f}"}]

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_SCHEDULES)
        assert _ours(await _snapshot(engine)) == upgraded  # the rows stay with their tables
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        assert _ours(await _snapshot(engine)) == upgraded
        await asyncio.to_thread(migrations.check, scratch_url)
        # At head again, the rules hold: a one-line schedule follows its commitment.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE commitments SET amount = amount + 1"
                    " WHERE id = (SELECT id FROM commitments ORDER BY id LIMIT 1)"
                )
            )
            broken = await conn.execute(
                text(
                    "SELECT count(*) FROM commitments c WHERE c.amount <>"
                    " (SELECT sum(amount) FROM schedule_lines WHERE commitment_id = c.id)"
                )
            )
            assert broken.scalar_one() == 0
    finally:
        await engine.dispose()
