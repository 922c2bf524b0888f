"""Financing plan rows: the plan and its lines, the representation the database builds
(relance_financing_plan_data, also what the change log stores)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import RowMapping, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from app.common.repository import Repository
from app.financing.statements import Shape, cells_statement, totals_statement
from app.models import Action, FinancingPlan, FinancingPlanLine
from app.reporting.statements import Cut

Line = tuple[uuid.UUID, str, Decimal]
"""(partner_id, instrument, amount)."""

# The plan's whole row, the argument of relance_financing_plan_data.
_PLANS = cast(Table, FinancingPlan.__table__)
# Set while the API replaces a plan's lines (app/models/sql/financing.sql).
_WRITING = "relance.financing_plan_writing"


class FinancingRepository(Repository[Action]):
    model = Action

    async def plan(self, action_id: uuid.UUID, *, for_update: bool = False) -> FinancingPlan | None:
        stmt = select(FinancingPlan).where(FinancingPlan.action_id == action_id)
        if for_update:
            # As the database's own check (financing.sql): a new line's key share waits not.
            stmt = stmt.with_for_update(key_share=True)  # FOR NO KEY UPDATE
        result: FinancingPlan | None = (await self.session.scalars(stmt)).one_or_none()
        return result

    async def representation(self, action_id: uuid.UUID) -> tuple[dict[str, Any], int] | None:
        """The plan as GET shows it (built by the database, as the change log stores it), and
        its version; None without a plan."""
        stmt = select(
            func.relance_financing_plan_data(_PLANS.table_valued()), FinancingPlan.version
        ).where(FinancingPlan.action_id == action_id)
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def lines(self, action_id: uuid.UUID) -> list[Line]:
        stmt = (
            select(
                FinancingPlanLine.partner_id, FinancingPlanLine.instrument, FinancingPlanLine.amount
            )
            .where(FinancingPlanLine.action_id == action_id)
            .order_by(FinancingPlanLine.partner_id, FinancingPlanLine.instrument)
        )
        return [
            (row.partner_id, row.instrument, row.amount) for row in await self.session.execute(stmt)
        ]

    async def create(self, action_id: uuid.UUID, values: dict[str, Any]) -> bool:
        """A new plan; False when a concurrent writer created it first (then lock and update)."""
        stmt = (
            pg_insert(FinancingPlan)
            .values(action_id=action_id, **values)
            .on_conflict_do_nothing(index_elements=[FinancingPlan.action_id])
            .returning(FinancingPlan.action_id)
        )
        return (await self.session.scalar(stmt)) is not None

    async def update(self, action_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(FinancingPlan)
            .where(FinancingPlan.action_id == action_id)
            .values(**values, version=FinancingPlan.version + 1, updated_at=func.now())
        )

    async def replace_lines(self, action_id: uuid.UUID, lines: Sequence[Line]) -> None:
        """The plan's lines become these (their sum checked at commit by the database); the
        caller moves the plan's version once (`update`), the lines' triggers are told not to."""
        await self.session.execute(select(func.set_config(_WRITING, "on", True)))
        await self.session.execute(
            delete(FinancingPlanLine).where(FinancingPlanLine.action_id == action_id)
        )
        if lines:
            await self.session.execute(
                insert(FinancingPlanLine),
                [
                    {"action_id": action_id, "partner_id": p, "instrument": i, "amount": a}
                    for p, i, a in lines
                ],
            )
        await self.session.execute(select(func.set_config(_WRITING, "", True)))

    async def delete_plan(self, action_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(FinancingPlan).where(FinancingPlan.action_id == action_id)
        )

    async def write_demo_plans(self) -> int:
        """A plan for each synthetic action with commitments: a line per partner and
        instrument of its commitments not cancelled (what BDT, AMP, the State… planned or
        committed there), the eligible cost their sum, but for about one action in four,
        left a 15 % gap; the total cost 10 % above; AMP the lead where it has a line."""
        plans = await self.session.execute(
            text(
                """
INSERT INTO financing_plans (action_id, total_cost, eligible_cost, lead_partner_id)
SELECT s.action_id, round(s.eligible * 1.10, 2), s.eligible,
       (SELECT p.id FROM partners p
        WHERE p.code = 'AMP'
          AND EXISTS (SELECT FROM commitments c WHERE c.action_id = s.action_id
                      AND c.partner_id = p.id AND c.status <> 'cancelled'))
FROM (SELECT a.id AS action_id,
             round(sum(c.amount) * CASE WHEN get_byte(decode(md5(a.code), 'hex'), 0) % 4 = 0
                                        THEN 1.15 ELSE 1 END, 2) AS eligible
      FROM actions a JOIN commitments c ON c.action_id = a.id
      WHERE a.synthetic AND c.status <> 'cancelled'
      GROUP BY a.id) s
ON CONFLICT (action_id) DO NOTHING
RETURNING action_id
"""
            )
        )
        created = [row[0] for row in plans]
        if created:
            await self.session.execute(
                text(
                    """
INSERT INTO financing_plan_lines (action_id, partner_id, instrument, amount)
SELECT c.action_id, c.partner_id, c.instrument, sum(c.amount)
FROM commitments c
WHERE c.action_id = ANY(:created) AND c.status <> 'cancelled'
GROUP BY c.action_id, c.partner_id, c.instrument
"""
                ).bindparams(bindparam("created", created, type_=ARRAY(Uuid())))
            )
        return len(created)


def _cut_params(cut: Cut) -> dict[str, Any]:
    return {
        "programme": list(cut.programme),
        "priority": list(cut.priority),
        "chantier": list(cut.chantier),
        "action": list(cut.action),
        "partner": list(cut.partner),
        "partner_kind": list(cut.partner_kind),
        "instrument": list(cut.instrument),
    }


class FinancingCubeRepository:
    """The financing cube's statements (app/financing/statements.py), run with the cut bound."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cells(
        self, shape: Shape, cut: Cut, limit: int, offset: int, max_cells: int
    ) -> list[RowMapping]:
        params = _cut_params(cut) | {
            "page_limit": limit,
            "page_offset": offset,
            "max_cells": max_cells,
        }
        statement = cells_statement(shape)
        used = {name: value for name, value in params.items() if f":{name}" in statement.text}
        return list((await self.session.execute(statement, used)).mappings().all())

    async def totals(self, cut: Cut, partner_level: bool) -> RowMapping:
        statement = totals_statement(partner_level)
        params = {k: v for k, v in _cut_params(cut).items() if f":{k}" in statement.text}
        return (await self.session.execute(statement, params)).mappings().one()
