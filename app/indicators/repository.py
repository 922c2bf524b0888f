"""Indicator rows: definitions, each action's record (read through the database's own snapshot
function, so that GET, history and the change feed show one representation), the partners'
batch upsert and the roll-ups."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import any_, bindparam, delete, exists, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text, Uuid

from app.common.repository import Condition, Repository, conditions, when
from app.indicators.schemas import ActionIndicatorRead, IndicatorFilters
from app.models import (
    Action,
    ActionIndicator,
    Chantier,
    Indicator,
    IndicatorActual,
    IndicatorTarget,
)
from app.models.base import etag_of

_RECORD_DATA = func.relance_action_indicator_data(
    text("action_indicators")  # the whole row, as the change log's trigger passes it
)


def as_read(data: dict[str, Any], version: int) -> ActionIndicatorRead:
    """The record from its snapshot (relance_action_indicator_data), as the change feed reads it."""
    values = dict(data)
    for name in ("created_at", "updated_at"):
        values[name] = datetime.fromisoformat(values[name]).astimezone(UTC)
    values["etag"] = etag_of(uuid.UUID(values["id"]), version)
    return ActionIndicatorRead.model_validate(values)


class RecordKey(NamedTuple):
    id: uuid.UUID
    version: int
    unit: str

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.version)


class Named(NamedTuple):
    """What an item of a partner's batch names: the action, the indicator, their record."""

    action_id: uuid.UUID | None
    indicator_id: uuid.UUID | None
    record_id: uuid.UUID | None
    unit_matches: bool


@dataclass(frozen=True)
class ValueColumns:
    """A partner's values, one list per column (the shape unnest() takes); values as the
    decimal strings they were sent as."""

    external_ref: list[str]
    record_id: list[uuid.UUID]
    on: list[date]
    value: list[str]

    def __len__(self) -> int:
        return len(self.external_ref)


# One statement for the whole batch: the values upserted by the partner's reference (an
# identical one is left alone), then every record whose values changed (the one a value moved
# away from included, read from the statement's snapshot) takes a new version, and the record's
# capture trigger logs each once, with its values as they now are.
UPSERT_VALUES = text(
    """
WITH sent AS (
    SELECT * FROM unnest(CAST(:external_ref AS text[]), CAST(:record_id AS uuid[]),
                         CAST(:on AS date[]), CAST(CAST(:value AS text[]) AS numeric[]))
        AS r(external_ref, record_id, measured_on, value)
), before AS (
    SELECT x.external_ref, x.action_indicator_id
    FROM indicator_actuals x
    WHERE x.partner_id = CAST(:partner_id AS uuid)
      AND x.external_ref = ANY(CAST(:external_ref AS text[]))
), written AS (
    INSERT INTO indicator_actuals AS x
        (partner_id, external_ref, action_indicator_id, measured_on, value)
    SELECT CAST(:partner_id AS uuid), s.external_ref, s.record_id, s.measured_on, s.value
    FROM sent s
    ORDER BY s.external_ref COLLATE "C"  -- one lock order for every batch (bytewise: cheap)
    ON CONFLICT (partner_id, external_ref) DO UPDATE
    SET action_indicator_id = EXCLUDED.action_indicator_id,
        measured_on = EXCLUDED.measured_on, value = EXCLUDED.value
    WHERE (x.action_indicator_id, x.measured_on, x.value::text)
          IS DISTINCT FROM (EXCLUDED.action_indicator_id, EXCLUDED.measured_on,
                            EXCLUDED.value::text)
    RETURNING x.external_ref, x.action_indicator_id, (x.xmax = 0) AS inserted
), touched AS (
    UPDATE action_indicators r SET version = r.version + 1, updated_at = now()
    WHERE r.id IN (SELECT action_indicator_id FROM written
                   UNION
                   SELECT b.action_indicator_id FROM before b
                   JOIN written w ON w.external_ref = b.external_ref)
    RETURNING r.id
)
SELECT count(*) FILTER (WHERE inserted) AS created,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM touched) AS records
FROM written
"""
)

NAMED = text(
    """
SELECT s.action_code, s.indicator_code, a.id AS action_id, i.id AS indicator_id,
       r.id AS record_id, coalesce(r.unit = i.unit, false) AS unit_matches
FROM unnest(CAST(:action_code AS text[]), CAST(:indicator_code AS text[]))
    AS s(action_code, indicator_code)
LEFT JOIN actions a ON a.code = s.action_code
    AND (CAST(:within AS uuid[]) IS NULL OR a.programme_id = ANY(CAST(:within AS uuid[])))
LEFT JOIN indicators i ON i.code = s.indicator_code
LEFT JOIN action_indicators r ON r.action_id = a.id AND r.indicator_id = i.id
"""
)


class IndicatorRepository(Repository[Indicator]):
    model = Indicator

    def where(self, filters: IndicatorFilters) -> list[Condition]:
        return conditions(
            when(filters.code, Indicator.code.in_),
            when(filters.programme_id, lambda p: Indicator.programme_id == p),
            when(filters.aggregation, lambda a: Indicator.aggregation == a.value),
        )

    async def has_records(self, indicator_id: uuid.UUID) -> bool:
        stmt = select(exists().where(ActionIndicator.indicator_id == indicator_id))
        return bool((await self.session.execute(stmt)).scalar_one())

    async def units_other_than(self, indicator_id: uuid.UUID, unit: str) -> list[str]:
        """The units the indicator's records were stated in, other than `unit`."""
        stmt = (
            select(ActionIndicator.unit)
            .where(ActionIndicator.indicator_id == indicator_id, ActionIndicator.unit != unit)
            .distinct()
            .order_by(ActionIndicator.unit)
        )
        return list((await self.session.scalars(stmt)).all())


class RecordRepository:
    """One action's records: read through relance_action_indicator_data, written with plain
    statements (the children first; the record's row last, so its trigger sees them)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def action(self, action_id: uuid.UUID) -> Action | None:
        return (
            await self.session.scalars(select(Action).where(Action.id == action_id))
        ).one_or_none()

    async def demo_actions(
        self, programme_id: uuid.UUID, chantier_number: int, titles: list[str]
    ) -> list[Action]:
        """The demo's (synthetic) actions of this chantier with these titles, by code."""
        stmt = (
            select(Action)
            .join(Chantier, Chantier.id == Action.chantier_id)
            .where(
                Chantier.programme_id == programme_id,
                Chantier.number == chantier_number,
                Action.synthetic.is_(True),
                Action.title.in_(titles),
            )
            .order_by(Action.code)
        )
        return list((await self.session.scalars(stmt)).all())

    async def indicator(self, indicator_id: uuid.UUID) -> Indicator | None:
        return (
            await self.session.scalars(select(Indicator).where(Indicator.id == indicator_id))
        ).one_or_none()

    async def key(self, action_id: uuid.UUID, indicator_id: uuid.UUID) -> RecordKey | None:
        """The record's id, version and unit, locked FOR UPDATE (one writer at a time)."""
        stmt = (
            select(ActionIndicator.id, ActionIndicator.version, ActionIndicator.unit)
            .where(
                ActionIndicator.action_id == action_id,
                ActionIndicator.indicator_id == indicator_id,
            )
            .with_for_update()
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else RecordKey(*row)

    async def read(
        self, action_id: uuid.UUID, indicator_id: uuid.UUID | None = None
    ) -> list[ActionIndicatorRead]:
        """The action's records (or its one record of this indicator), in indicator code order."""
        stmt = (
            select(_RECORD_DATA, ActionIndicator.version)
            .select_from(ActionIndicator)
            .join(Indicator, Indicator.id == ActionIndicator.indicator_id)
            .where(ActionIndicator.action_id == action_id)
            .order_by(Indicator.code)
        )
        if indicator_id is not None:
            stmt = stmt.where(ActionIndicator.indicator_id == indicator_id)
        rows = (await self.session.execute(stmt)).all()
        return [as_read(data, version) for data, version in rows]

    async def replace_children(
        self,
        record_id: uuid.UUID,
        programme_id: uuid.UUID,
        targets: Sequence[tuple[int, Decimal]],
        actuals: Sequence[dict[str, Any]],
    ) -> None:
        await self.session.execute(
            delete(IndicatorTarget).where(IndicatorTarget.action_indicator_id == record_id)
        )
        await self.session.execute(
            delete(IndicatorActual).where(IndicatorActual.action_indicator_id == record_id)
        )
        if targets:
            await self.session.execute(
                insert(IndicatorTarget),
                [
                    {
                        "action_indicator_id": record_id,
                        "programme_id": programme_id,
                        "year": year,
                        "value": value,
                    }
                    for year, value in targets
                ],
            )
        # One row at a time in the order given: their ids keep it (ties of one day).
        for actual in actuals:
            await self.session.execute(
                insert(IndicatorActual).values(action_indicator_id=record_id, **actual)
            )

    async def insert_record(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(ActionIndicator).values(version=1, **values))

    async def update_record(self, record_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(ActionIndicator)
            .where(ActionIndicator.id == record_id)
            .values(version=ActionIndicator.version + 1, updated_at=func.now(), **values)
            .execution_options(synchronize_session=False)
        )

    async def delete_record(self, record_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(ActionIndicator)
            .where(ActionIndicator.id == record_id)
            .execution_options(synchronize_session=False)
        )

    # -- partners' values ----------------------------------------------------------------------

    async def named(
        self, pairs: Collection[tuple[str, str]], within: Collection[uuid.UUID] | None
    ) -> dict[tuple[str, str], Named]:
        """What each (action code, indicator code) names: one statement for the batch."""
        if not pairs:
            return {}
        actions, indicators = zip(*pairs, strict=True)
        params = {
            "action_code": list(actions),
            "indicator_code": list(indicators),
            "within": None if within is None else list(within),
        }
        stmt = NAMED.bindparams(
            bindparam("action_code", type_=ARRAY(Text())),
            bindparam("indicator_code", type_=ARRAY(Text())),
            bindparam("within", type_=ARRAY(Uuid())),
        )
        rows = (await self.session.execute(stmt, params)).all()
        return {
            (row.action_code, row.indicator_code): Named(
                row.action_id, row.indicator_id, row.record_id, row.unit_matches
            )
            for row in rows
        }

    async def upsert_values(self, partner_id: uuid.UUID, columns: ValueColumns) -> tuple[int, int]:
        """Insert or update the values; returns how many were created and how many updated."""
        if not len(columns):
            return 0, 0
        params = {
            "partner_id": partner_id,
            "external_ref": columns.external_ref,
            "record_id": columns.record_id,
            "on": columns.on,
            "value": columns.value,
        }
        created, updated, _ = (await self.session.execute(UPSERT_VALUES, params)).one()
        return int(created), int(updated)

    async def record_of_value(self, partner_id: uuid.UUID, external_ref: str) -> uuid.UUID | None:
        stmt = select(IndicatorActual.action_indicator_id).where(
            IndicatorActual.partner_id == partner_id, IndicatorActual.external_ref == external_ref
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def record_ids_by_key(self, record_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
        stmt = select(ActionIndicator.action_id, ActionIndicator.indicator_id).where(
            ActionIndicator.id == record_id
        )
        action_id, indicator_id = (await self.session.execute(stmt)).one()
        return action_id, indicator_id

    async def refs_outside(
        self, partner_id: uuid.UUID, refs: Sequence[str], within: Collection[uuid.UUID]
    ) -> set[str]:
        """Which of these references name a value of the partner on a record of a programme
        outside `within` (a scoped key must not move them)."""
        if not refs:
            return set()
        stmt = (
            select(IndicatorActual.external_ref)
            .join(ActionIndicator, ActionIndicator.id == IndicatorActual.action_indicator_id)
            .where(
                IndicatorActual.partner_id == partner_id,
                IndicatorActual.external_ref
                == any_(bindparam("refs", list(refs), type_=ARRAY(Text()))),
                ~ActionIndicator.programme_id.in_(list(within)),
            )
        )
        return {ref for ref in (await self.session.scalars(stmt)).all() if ref is not None}


# --- roll-ups ----------------------------------------------------------------------------------

# The group each record counts in, by dimension: a chantier serving two priorities counts its
# actions in both (a priority's total is its own; priorities are not added up together).
_GROUPS = {
    "programme": ("r.programme_id", ""),
    "chantier": ("a.chantier_id", ""),
    "priority": ("cp.priority_id", "JOIN chantier_priorities cp ON cp.chantier_id = a.chantier_id"),
}


def _rollup(group: str, join: str) -> str:
    # Each `sum` record for each year of its programme: its target that year, and its last
    # actual up to 31 December (of one day, the one recorded last); then Σ by group and year.
    # `group` and `join` are the constants above.
    return f"""
WITH cell AS (
    SELECT r.indicator_id, {group} AS group_id, y.year, r.baseline_value AS baseline,
           t.value AS target, last.value AS actual
    FROM action_indicators r
    JOIN indicators i ON i.id = r.indicator_id AND i.aggregation = 'sum'
    JOIN actions a ON a.id = r.action_id
    {join}
    JOIN programme_years y ON y.programme_id = r.programme_id
    LEFT JOIN indicator_targets t ON t.action_indicator_id = r.id AND t.year = y.year
    LEFT JOIN LATERAL (
        SELECT x.value FROM indicator_actuals x
        WHERE x.action_indicator_id = r.id AND x.measured_on <= make_date(y.year, 12, 31)
        ORDER BY x.measured_on DESC, x.id DESC LIMIT 1
    ) last ON true
    WHERE (CAST(:indicator_id AS uuid) IS NULL OR r.indicator_id = CAST(:indicator_id AS uuid))
      AND (CAST(:programme_id AS uuid) IS NULL OR r.programme_id = CAST(:programme_id AS uuid))
      AND (CAST(:year AS integer) IS NULL OR y.year = CAST(:year AS integer))
), summed AS (
    SELECT indicator_id, group_id, year, count(*) AS actions,
           count(*) FILTER (WHERE complete) AS complete,
           sum(baseline) AS baseline, sum(target) AS target, sum(actual) AS actual,
           sum(actual) FILTER (WHERE complete) - sum(baseline) FILTER (WHERE complete) AS gained,
           sum(target) FILTER (WHERE complete) - sum(baseline) FILTER (WHERE complete) AS promised
    FROM (SELECT cell.*, (baseline IS NOT NULL AND target IS NOT NULL AND actual IS NOT NULL)
                 AS complete FROM cell) c
    GROUP BY indicator_id, group_id, year
    HAVING sum(target) IS NOT NULL OR sum(actual) IS NOT NULL
)
SELECT s.indicator_id, i.code AS indicator_code, i.unit, i.direction, s.group_id, s.year,
       s.actions, s.complete, s.baseline, s.target, s.actual,
       round(s.gained / nullif(s.promised, 0), 4) AS achievement
FROM summed s JOIN indicators i ON i.id = s.indicator_id
ORDER BY i.code, s.group_id, s.year
"""  # noqa: S608


ROLLUPS = {name: text(_rollup(group, join)) for name, (group, join) in _GROUPS.items()}


class RollupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cells(
        self,
        by: str,
        indicator_id: uuid.UUID | None,
        programme_id: uuid.UUID | None,
        year: int | None,
    ) -> list[dict[str, Any]]:
        params = {"indicator_id": indicator_id, "programme_id": programme_id, "year": year}
        rows = (await self.session.execute(ROLLUPS[by], params)).mappings().all()
        return [dict(row) for row in rows]
