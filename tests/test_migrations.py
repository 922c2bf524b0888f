"""Migrations: models and migrations agree (alembic check, the database's functions and triggers
included), and a round trip on real data keeps every row."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models.sql import ENTITIES
from app.programme.demo import demo
from app.programme.service import seed
from tests.cashflow.world import rollup_differences
from tests.database import admin_url, create_scratch_database, drop_database

# The revision before the change feed's commit order and the roll-up's commitment_count.
BEFORE_COMMIT_ORDER = "e1f2a3b4c5d6"
# The revision before programmes: the services of today write only at head, so data for an
# older revision is written at head and then migrated down.
BEFORE_PROGRAMMES = "748477131bf2"
# The revision before the programmes' own periods and the programme in the roll-up grain.
BEFORE_PERIODS = "7a3e5b9c1d24"
# The revision before beneficiaries (and the last of programmes).
BEFORE_BENEFICIARIES = "7a3e5b9c1d24"

# The revision of the payments and schedules (their merge), before the cash-flow roll-ups.
BEFORE_CASHFLOW = "325c80c12572"
MONEY_OVER_TIME = (
    "payments",
    "schedule_lines",
    "schedule_versions",
    "cashflow_rollups",
    "cashflow_rollup_removals",
)
# The tables of what the money buys (the revisions after the cash-flow roll-ups).
RESULTS = ("financing_plans", "financing_plan_lines")
INDICATORS = ("indicators", "action_indicators", "indicator_targets", "indicator_actuals")
# Derived by the database (the revisions after the cash-flow removals): from actions, and the
# territorial roll-ups from commitments, actions and the referential.
SUMMARIES = ("chantier_action_counts", "territorial_rollups")

Snapshot = dict[str, list[dict[str, Any]]]


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


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _like(rows: list[dict[str, Any]], model: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with only the columns (and, in the history's `data`, the fields) that `model`'s
    rows have, row by row: what a sibling branch of the release adds (partners' `siret`,
    commitments' beneficiary, beside the periods) is not the revision's to keep."""
    if len(rows) != len(model):
        return rows  # the comparison fails, and shows why

    def cut(row: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in row.items() if k in like}
        for k, v in kept.items():
            if isinstance(v, dict) and isinstance(like[k], dict):
                kept[k] = {f: x for f, x in v.items() if f in like[k]}
        return kept

    return [cut(row, like) for row, like in zip(rows, model, strict=True)]


async def _snapshot(engine: AsyncEngine) -> Snapshot:
    """Every row of every table but alembic_version, as JSON, in a stable order."""
    async with engine.connect() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version' ORDER BY 1"
                )
            )
        ).scalars()
        snapshot: Snapshot = {}
        for name in list(names):
            rows = await conn.execute(text(f'SELECT to_jsonb(t)::text FROM "{name}" t'))
            snapshot[name] = sorted(
                (json.loads(row, parse_float=Decimal) for row in rows.scalars()), key=_key
            )
        return snapshot


async def _write(engine: AsyncEngine, tag: int) -> None:
    """Updates, a delete and a chantier's new target, as separate transactions."""
    statements = [
        "UPDATE commitments SET amount = amount + 1, version = version + 1, updated_at = now()"
        " WHERE id IN (SELECT id FROM commitments ORDER BY id LIMIT 20)",
        "UPDATE commitments SET label = 'round trip', version = version + 1"
        " WHERE id IN (SELECT id FROM commitments ORDER BY id DESC LIMIT 5)",
        "DELETE FROM commitments WHERE id = (SELECT id FROM commitments ORDER BY id LIMIT 1)",
        f"UPDATE chantiers SET name = name || ' {tag}', version = version + 1 WHERE number = 5",
    ]
    for statement in statements:
        async with engine.begin() as conn:
            await conn.execute(text(statement))


def _without(snapshot: Snapshot, table: str, column: str) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in row.items() if k != column} for row in snapshot[table]), key=_key
    )


async def _filled(url: str, revision: str) -> AsyncEngine:
    """A database at `revision` holding the seed and the demo data (written at head)."""
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(settings, serving=False)  # seeds run long
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
        await demo(session, settings)
    await asyncio.to_thread(migrations.downgrade, url, revision)
    return engine


async def test_models_and_migrations_agree(database_url: str) -> None:
    await asyncio.to_thread(migrations.check, database_url)


async def test_beneficiaries_round_trip_adds_the_fields_to_rows_and_history(
    scratch_url: str,
) -> None:
    engine = await _filled(scratch_url, BEFORE_BENEFICIARIES)
    try:
        before = await _snapshot(engine)
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        upgraded = await _snapshot(engine)
        added = {
            "beneficiary_name": None,
            "beneficiary_siret": None,
            "beneficiary_rna": None,
            "decision_ref": None,
            "eu_notified": False,
        }
        assert upgraded["commitments"] == sorted(
            (row | added for row in before["commitments"]), key=_key
        )
        assert upgraded["partners"] == sorted(
            (row | {"siret": None} for row in before["partners"]), key=_key
        )
        logged = [r for r in upgraded["changes"] if r["data"] is not None]
        for row in logged:
            if row["resource"] == "commitments":
                assert row["data"].items() >= added.items()
            if row["resource"] == "partners":
                assert row["data"]["siret"] is None
        assert len(upgraded["changes"]) == len(before["changes"])  # no entry for the migration

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_BENEFICIARIES)
        assert await _snapshot(engine) == before
    finally:
        await engine.dispose()


def test_every_declared_function_and_trigger_is_loaded_from_the_sql_files() -> None:
    identities = {entity.identity for entity in ENTITIES}
    assert len(identities) == len(ENTITIES) == 152
    assert "PGFunction: public.change_commits_take_position()" in identities
    assert "PGTrigger: public.change_commits_take_position True public.change_commits" in (
        identities
    )


async def test_round_trip_upgrade_downgrade_upgrade_with_data(scratch_url: str) -> None:
    settings = Settings(database_url=scratch_url)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    engine = create_engine(settings, serving=False)  # seeds run long
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
        report = await demo(session, settings)
    await engine.dispose()
    assert report.commitments > 0
    await asyncio.to_thread(migrations.downgrade, scratch_url, "base")
    assert await _table_count(scratch_url) == 1  # only alembic_version is left
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    assert await _table_count(scratch_url) == 32
    await asyncio.to_thread(migrations.check, scratch_url)


async def test_commit_order_and_commitment_count_round_trip_keeps_every_row(
    scratch_url: str,
) -> None:
    engine = await _filled(scratch_url, BEFORE_COMMIT_ORDER)
    try:
        await _write(engine, 1)  # with the old triggers: `changed` filled by them
        before = await _snapshot(engine)
        assert any(row["changed"] for row in before["changes"])

        await asyncio.to_thread(migrations.upgrade, scratch_url, BEFORE_PROGRAMMES)
        upgraded = await _snapshot(engine)
        for table in set(before) - {"changes", "commitment_rollups"}:
            assert upgraded[table] == before[table], table
        assert upgraded["changes"] == _without(before, "changes", "changed")
        renamed = [
            {("commitment_count" if k == "n" else k): v for k, v in row.items()}
            for row in before["commitment_rollups"]
        ]
        assert sorted(renamed, key=_key) == upgraded["commitment_rollups"]
        # The transactions already logged, in the order the feed served them: by id.
        txids = sorted({row["txid"] for row in before["changes"]})
        assert sorted((r["position"], r["txid"]) for r in upgraded["change_commits"]) == list(
            enumerate(txids, start=1)
        )

        await _write(engine, 2)  # with the new triggers: positions taken at commit
        written = await _snapshot(engine)
        assert len(written["change_commits"]) == len(txids) + 4

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_COMMIT_ORDER)
        downgraded = await _snapshot(engine)
        assert "change_commits" not in downgraded
        for table in set(before) - {"changes", "commitment_rollups"}:
            assert downgraded[table] == written[table], table
        # The old `changed` column is back, as the old triggers had written it.
        old_ids = {row["id"] for row in before["changes"]}
        assert [r for r in downgraded["changes"] if r["id"] in old_ids] == sorted(
            before["changes"], key=_key
        )
        assert _without(downgraded, "changes", "changed") == written["changes"]
        assert all(r["changed"] is not None for r in downgraded["changes"] if r["op"] == "update")

        await asyncio.to_thread(migrations.upgrade, scratch_url, BEFORE_PROGRAMMES)
        assert await _snapshot(engine) == written
    finally:
        await engine.dispose()


async def test_programmes_round_trip_keeps_every_row_attached_to_one_programme(
    scratch_url: str,
) -> None:
    engine = await _filled(scratch_url, BEFORE_PROGRAMMES)
    try:
        before = await _snapshot(engine)
        assert "programmes" not in before
        assert before["commitments"]

        # Up to the ownership revision: the periods' revision (next) may widen the one
        # programme to the years its rows use (the demo's second programme reaches 2027).
        await asyncio.to_thread(migrations.upgrade, scratch_url, BEFORE_PERIODS)
        upgraded = await _snapshot(engine)
        [programme] = upgraded["programmes"]
        assert (programme["code"], programme["start_year"], programme["end_year"]) == (
            "AMP-RR-2020-2026",
            2020,
            2026,
        )
        owning = {"priorities", "chantiers", "chantier_priorities", "actions", "commitments"}
        for table in owning:
            assert {row["programme_id"] for row in upgraded[table]} == {programme["id"]}
            assert _without(upgraded, table, "programme_id") == before[table], table
        for table in set(before) - owning - {"changes", "change_commits"}:
            assert upgraded[table] == before[table], table  # roll-ups (aggregates) included
        owned = [r for r in upgraded["changes"] if r["resource"] in owning]
        assert all(r["data"]["programme_id"] == programme["id"] for r in owned if r["data"])
        old_ids = {r["id"] for r in before["changes"]}
        added = [r for r in upgraded["changes"] if r["id"] not in old_ids]
        assert [(r["resource"], r["resource_id"]) for r in added] == [
            ("programmes", programme["id"])
        ]

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_PROGRAMMES)
        assert await _snapshot(engine) == before
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        await asyncio.to_thread(migrations.check, scratch_url)
        # At head the one programme's period covers every year its rows use: widened, logged.
        head = await _snapshot(engine)
        [programme] = head["programmes"]
        years = {r["year"] for r in head["commitments"]} | {
            r["year"] for r in head["chantier_targets"]
        }
        assert (programme["start_year"], programme["end_year"]) == (min(years), max(years))
        assert len(head["programme_years"]) == max(years) - min(years) + 1
        for table in set(before) - owning - {"changes", "change_commits", "programme_years"}:
            rows = [{k: v for k, v in r.items() if k != "programme_id"} for r in head[table]]
            assert _like(sorted(rows, key=_key), before[table]) == before[table], table
    finally:
        await engine.dispose()


async def test_periods_round_trip_keeps_every_row_aggregate_and_history_entry(
    scratch_url: str,
) -> None:
    """Filled by `relance demo` (two programmes), at the previous head; up, down, up."""
    engine = await _filled(scratch_url, BEFORE_PERIODS)
    try:
        before = await _snapshot(engine)
        assert len(before["programmes"]) == 2
        assert {"year"} == set(before["programme_years"][0])

        await asyncio.to_thread(migrations.upgrade, scratch_url)
        upgraded = await _snapshot(engine)
        changed = {"programme_years", "chantier_targets", "commitment_rollups"}
        for table in set(before) - changed:  # history (changes) included
            assert _like(upgraded[table], before[table]) == before[table], table
        periods = {p["id"]: (p["start_year"], p["end_year"]) for p in upgraded["programmes"]}
        assert sorted((r["programme_id"], r["year"]) for r in upgraded["programme_years"]) == [
            (id, year) for id, (start, end) in sorted(periods.items())
            for year in range(start, end + 1)
        ]  # fmt: skip
        programme_of = {c["id"]: c["programme_id"] for c in upgraded["chantiers"]}
        for table in ("chantier_targets", "commitment_rollups"):
            assert all(r["programme_id"] == programme_of[r["chantier_id"]] for r in upgraded[table])
            assert _without(upgraded, table, "programme_id") == before[table], table
        # The second programme's rows lie in its own period, 2023–2027.
        second = next(id for id, period in periods.items() if period == (2023, 2027))
        years = {r["year"] for r in upgraded["commitments"] if r["programme_id"] == second}
        assert years
        assert min(years) >= 2023

        await _write(engine, 1)  # the new triggers keep the roll-up exact
        kept = await _snapshot(engine)
        async with engine.begin() as conn:
            await conn.execute(text("SELECT commitment_rollups_rebuild()"))
        assert (await _snapshot(engine))["commitment_rollups"] == kept["commitment_rollups"]

        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_PERIODS)
        downgraded = await _snapshot(engine)
        # Downgrading below the periods also undoes the revisions of the branches merged after
        # it (keys scoped to programmes, money over time, results): their tables go, and come
        # back empty or derived again (one schedule line and version 1 per commitment, the
        # opening payments of the totals): the demo's schedules, payments, milestones,
        # financing plans and indicators, written at head, are theirs to lose, the totals
        # are kept.
        later = {
            "api_key_programmes",
            "milestones",
            *MONEY_OVER_TIME,
            *RESULTS,
            *INDICATORS,
            *SUMMARIES,
        }
        assert set(kept) - set(downgraded) == later
        assert kept["api_key_programmes"] == []
        # The payments' and the plans' own history goes with them (the older revisions have
        # neither).
        gone = {"payments", "financing_plans"}
        kept["changes"] = [c for c in kept["changes"] if c["resource"] not in gone]
        for table in set(downgraded) - changed:
            assert downgraded[table] == _like(kept[table], downgraded[table]), table
        assert downgraded["programme_years"] == before["programme_years"]
        for table in ("chantier_targets", "commitment_rollups"):
            assert downgraded[table] == _without(kept, table, "programme_id"), table
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        again = await _snapshot(engine)
        for table in set(kept) - {*MONEY_OVER_TIME, *RESULTS}:
            assert again[table] == kept[table], table
        await asyncio.to_thread(migrations.check, scratch_url)
    finally:
        await engine.dispose()


async def test_cashflow_rollups_round_trip_backfills_and_keeps_every_row(scratch_url: str) -> None:
    """The demo's schedules and payments at the previous revision: the upgrade backfills the
    roll-up equal to its GROUP BY and changes no other row; down and up again keep them all."""
    engine = await _filled(scratch_url, BEFORE_CASHFLOW)
    try:
        before = await _snapshot(engine)
        assert before["payments"]
        assert before["schedule_lines"]
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        upgraded = await _snapshot(engine)
        assert {t: upgraded[t] for t in before} == before
        assert upgraded["cashflow_rollups"]
        async with engine.connect() as conn:
            assert await rollup_differences(conn) == []
        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_CASHFLOW)
        assert await _snapshot(engine) == before
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        assert await _snapshot(engine) == upgraded
    finally:
        await engine.dispose()
