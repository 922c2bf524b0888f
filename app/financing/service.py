"""Financing plan rules: eligible cost within the total cost, one line per partner and
instrument, lines within the eligible cost, a lead partner among the lines; written by the
action's editors, read by anyone."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.fields import format_money
from app.common.http import check_if_match
from app.common.principal import Principal
from app.common.rules import reference_errors, repeated_errors
from app.config import Settings
from app.errors import ErrorItem, NotFound, PreconditionFailed, ValidationFailed
from app.financing.repository import FinancingCubeRepository, FinancingRepository, Line
from app.financing.schemas import (
    FinancingAggregate,
    FinancingCell,
    FinancingFilters,
    FinancingMeasures,
    FinancingPlanInput,
    FinancingPlanRead,
)
from app.financing.statements import ENTITIES, MEASURES, PARTNER_DIMENSIONS, Shape
from app.models import Action, Partner
from app.models.base import etag_of
from app.reporting.schemas import AggregateFilters
from app.reporting.service import ReportingService, TooManyCells, dimension_values
from app.reporting.statements import Cut, OrderKey


def plan_errors(data: FinancingPlanInput) -> list[ErrorItem]:
    """Every rule of a plan pydantic cannot see; the database refuses the same at commit."""
    errors = []
    if data.eligible_cost > data.total_cost:
        detail = f"must not be above total_cost ({format_money(data.total_cost)})"
        errors.append(ErrorItem(pointer="/eligible_cost", detail=detail))
    keys = [(line.partner_id, line.instrument) for line in data.lines]
    errors += repeated_errors(keys, lambda n: f"/lines/{n}/instrument")
    planned = sum((line.amount for line in data.lines), Decimal(0))
    if planned > data.eligible_cost:
        detail = (
            f"sum to {format_money(planned)}, above the eligible cost "
            f"{format_money(data.eligible_cost)}"
        )
        errors.append(ErrorItem(pointer="/lines", detail=detail))
    lead = data.lead_partner_id
    if lead is not None and all(line.partner_id != lead for line in data.lines):
        detail = "must be the partner of one of the lines"
        errors.append(ErrorItem(pointer="/lead_partner_id", detail=detail))
    return errors


def _lines(data: FinancingPlanInput) -> list[Line]:
    return sorted((line.partner_id, line.instrument.value, line.amount) for line in data.lines)


class FinancingService:
    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.repo = FinancingRepository(session)
        self.principal = principal

    @staticmethod
    def missing(action_id: uuid.UUID) -> NotFound:
        return NotFound(f"No action has id {action_id}.")

    @staticmethod
    def no_plan(action_id: uuid.UUID) -> NotFound:
        return NotFound(f"The action {action_id} has no financing plan.")

    async def _action(self, action_id: uuid.UUID, *, writing: bool) -> Action:
        """The action, or 404; for a write, out of a scoped key's programmes answers alike."""
        action = await self.repo.get(action_id)
        if action is None:
            raise self.missing(action_id)
        if (
            writing
            and self.principal is not None
            and not self.principal.reaches(action.programme_id)
        ):
            raise self.missing(action_id)
        return action

    async def _read(self, action_id: uuid.UUID) -> FinancingPlanRead | None:
        found = await self.repo.representation(action_id)
        if found is None:
            return None
        data, version = found
        return FinancingPlanRead.model_validate(data | {"etag": etag_of(action_id, version)})

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, action_id: uuid.UUID) -> FinancingPlanRead:
        await self._action(action_id, writing=False)
        plan = await self._read(action_id)
        if plan is None:
            raise self.no_plan(action_id)
        return plan

    # -- writes --------------------------------------------------------------------------------

    async def put(
        self, action_id: uuid.UUID, data: FinancingPlanInput, if_match: str | None
    ) -> tuple[FinancingPlanRead, bool]:
        """The plan as sent (and whether it was created); writes nothing when it is the
        current plan sent again."""
        await self._action(action_id, writing=True)
        errors = plan_errors(data)
        partners = [line.partner_id for line in data.lines]
        errors += await reference_errors(
            self.repo, Partner, "partner", partners, lambda n: f"/lines/{n}/partner_id"
        )
        if errors:
            raise ValidationFailed(
                "The financing plan is invalid; nothing was written.", errors=errors
            )
        values: dict[str, Any] = {
            "total_cost": data.total_cost,
            "eligible_cost": data.eligible_cost,
            "lead_partner_id": data.lead_partner_id,
        }
        lines = _lines(data)
        current = await self.repo.plan(action_id, for_update=True)
        if current is None:
            if if_match is not None and "*" not in if_match:
                raise PreconditionFailed(
                    "The action has no financing plan yet: create it without If-Match."
                )
            if await self.repo.create(action_id, values):
                await self.repo.replace_lines(action_id, lines)
                return await self._written(action_id), True
            current = await self.repo.plan(action_id, for_update=True)
            assert current is not None  # created by a concurrent writer, which committed
        check_if_match(if_match, etag_of(action_id, current.version))
        stored = {name: getattr(current, name) for name in values}
        lines_changed = await self.repo.lines(action_id) != lines
        if stored != values or lines_changed:
            await self.repo.update(action_id, values)  # one new version, whatever changed
        if lines_changed:
            await self.repo.replace_lines(action_id, lines)
        return await self._written(action_id), False

    async def _written(self, action_id: uuid.UUID) -> FinancingPlanRead:
        plan = await self._read(action_id)
        assert plan is not None  # written in this transaction
        return plan

    async def delete(self, action_id: uuid.UUID, if_match: str | None) -> None:
        await self._action(action_id, writing=True)
        current = await self.repo.plan(action_id, for_update=True)
        if current is None:
            raise self.no_plan(action_id)
        check_if_match(if_match, etag_of(action_id, current.version))
        await self.repo.delete_plan(action_id)


# -- the financing cube --------------------------------------------------------------------------


def partner_level(drilldown: tuple[str, ...], cut: Cut) -> bool:
    """Whether the cube sums lines (a partner dimension or filter) rather than plans."""
    return bool(
        set(drilldown) & set(PARTNER_DIMENSIONS)
        or cut.partner
        or cut.partner_kind
        or cut.instrument
    )


def measures(row: RowMapping) -> dict[str, Any]:
    return {name: row[name] if name != "plans" else int(row[name]) for name in MEASURES} | {
        "planned": row["planned"] or Decimal("0.00"),
        "secured": row["secured"] or Decimal("0.00"),
    }


def cell(row: RowMapping, drilldown: tuple[str, ...]) -> FinancingCell:
    return FinancingCell(**measures(row), **dimension_values(row, drilldown, ENTITIES))


class FinancingCubeService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repo = FinancingCubeRepository(session)
        self.reporting = ReportingService(session, settings)
        self.max_cells = settings.aggregates.max_cells

    async def resolve(self, filters: FinancingFilters) -> Cut:
        """Ids or codes into ids, as the commitments cube resolves them (400 naming nothing)."""
        return await self.reporting.resolve(AggregateFilters(**asdict(filters)))

    async def rows(
        self,
        drilldown: tuple[str, ...],
        cut: Cut,
        order: tuple[OrderKey, ...],
        page: int | None,
        size: int | None,
    ) -> list[RowMapping]:
        """The cells' rows of one page (every cell without `page`), or TOO_MANY_CELLS."""
        shape = Shape(drilldown, order, partner_level(drilldown, cut))
        limit = size or self.max_cells
        offset = ((page or 1) - 1) * limit
        rows = await self.repo.cells(shape, cut, limit, offset, self.max_cells)
        if rows and int(rows[0]["total_cells"]) > self.max_cells:
            raise TooManyCells(self.max_cells)
        return rows

    async def aggregate(
        self,
        drilldown: tuple[str, ...],
        cut: Cut,
        order: tuple[OrderKey, ...],
        page: int,
        size: int,
    ) -> FinancingAggregate:
        level = partner_level(drilldown, cut)
        summary = FinancingMeasures(**measures(await self.repo.totals(cut, level)))
        rows = await self.rows(drilldown, cut, order, page, size) if drilldown else []
        total = int(rows[0]["total_cells"]) if rows else 0
        if drilldown and not rows and page > 1:
            first = await self.rows(drilldown, cut, order, 1, 1)
            total = int(first[0]["total_cells"]) if first else 0
        cells = [cell(row, drilldown) for row in rows]
        return FinancingAggregate(
            drilldown=list(drilldown),
            cells=cells,
            summary=summary,
            total_cell_count=total,
            page=page,
            page_size=size,
            overlapping="priority" in drilldown and sum(c.plans for c in cells) > summary.plans,
        )
