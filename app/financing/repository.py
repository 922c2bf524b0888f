"""Financing plan rows: the plan and its lines, the representation the database builds
(relance_financing_plan_data, also what the change log stores)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.common.repository import Repository
from app.models import Action, FinancingPlan, FinancingPlanLine

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
            stmt = stmt.with_for_update()
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
