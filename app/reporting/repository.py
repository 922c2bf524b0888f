"""The aggregate SQL's execution, and the reads behind progress and the filters' codes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, RowMapping, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Action,
    Chantier,
    ChantierPriority,
    ChantierTarget,
    CommitmentRollup,
    Partner,
    Priority,
    Programme,
)
from app.models.enums import ActionStatus
from app.reporting.statements import (
    PROGRAMME_SUMMARY,
    SUMMARY,
    CellQuery,
    Cut,
    cells_statement,
    cut_params,
    measures_of,
    page_params,
    page_statement,
    totals_statement,
)


@dataclass(frozen=True)
class Totals:
    planned: Decimal
    committed: Decimal
    disbursed: Decimal
    count: int


@dataclass(frozen=True)
class CellPage:
    """One page of cells and what the answer says besides (see `page_statement`)."""

    cells: Sequence[RowMapping]
    total_cells: int
    in_cells: int  # Σ counts over every cell
    totals: Totals


@dataclass(frozen=True)
class Physical:
    weighted: int  # Σ progress × weight
    weight: int  # Σ weight
    actions: int


class ReportingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cells(self, query: CellQuery) -> Sequence[RowMapping]:
        """One page of cells, each row also carrying the cell count and the sum of counts."""
        result = await self.session.execute(cells_statement(query), page_params(query))
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def page(self, query: CellQuery) -> CellPage:
        """One page of cells, the number of cells, and the true totals: one round trip."""
        result = await self.session.execute(page_statement(query), page_params(query))
        rows = result.mappings().all()
        head = rows[0]  # the statement always returns this row, even for an empty page
        totals = Totals(
            head["total_planned"],
            head["total_committed"],
            head["total_disbursed"],
            int(head["total_count"]),
        )
        cells = rows if head["in_page"] else ()
        return CellPage(cells, int(head["total_cell_count"]), int(head["count_in_cells"]), totals)

    async def stream_cells(self, query: CellQuery) -> AsyncIterator[RowMapping]:
        """Every cell (with the same counts as `cells`), fetched in chunks by a server-side
        cursor."""
        stmt = cells_statement(query).execution_options(yield_per=1000)
        result = await self.session.stream(stmt, page_params(query))
        async for row in result.mappings():
            yield row

    async def totals(self, cut: Cut) -> Totals:
        """The true total: no join that could count a commitment twice."""
        result = await self.session.execute(totals_statement(cut), cut_params(cut))
        row = result.mappings().one()
        return Totals(row["planned"], row["committed"], row["disbursed"], int(row["count"]))

    async def summary(self, programme_id: uuid.UUID | None) -> Sequence[RowMapping]:
        """Rows `breakdown` (totals, programme, priority, chantier, partner, year), `id`,
        `code`, `name`, `year` and the measures, over every programme or over one; see
        _summary_statement."""
        if programme_id is None:
            result = await self.session.execute(SUMMARY)
        else:
            result = await self.session.execute(PROGRAMME_SUMMARY, {"programme_id": programme_id})
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def resolve(self, entity: str, values: Collection[str]) -> dict[str, list[uuid.UUID]]:
        """Map each value (an id or a code) to the ids of the entities it names: a priority's or
        a chantier's code names one in each programme that has it."""
        models = {"programme": Programme, "priority": Priority, "chantier": Chantier}
        model: Any = models.get(entity) or (Action if entity == "action" else Partner)
        ids = []
        for value in values:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        stmt = select(model.id, model.code).where(
            or_(model.id.in_(ids), model.code.in_(list(values)))
        )
        found: dict[str, list[uuid.UUID]] = {}
        for id_, code in (await self.session.execute(stmt.order_by(model.id))).all():
            found.setdefault(code, []).append(id_)
            found[str(id_)] = [id_]
        return found

    # -- progress ------------------------------------------------------------------------------

    async def entity(self, kind: str, id: uuid.UUID) -> Row[Any] | None:
        """The chantier's or priority's id, code and name, and its programme's (`programme_id`,
        `programme_code`, `programme_name`, `start_year`, `end_year`)."""
        model: Any = Chantier if kind == "chantier" else Priority
        stmt = (
            select(
                model.id,
                model.code,
                model.name,
                Programme.id.label("programme_id"),
                Programme.code.label("programme_code"),
                Programme.name.label("programme_name"),
                Programme.start_year,
                Programme.end_year,
            )
            .join(Programme, Programme.id == model.programme_id)
            .where(model.id == id)
        )
        return (await self.session.execute(stmt)).one_or_none()

    async def programme(self, id: uuid.UUID) -> Row[Any] | None:
        stmt = select(Programme.id).where(Programme.id == id)
        return (await self.session.execute(stmt)).one_or_none()

    async def chantiers_of(self, priority_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(ChantierPriority.chantier_id).where(
            ChantierPriority.priority_id == priority_id
        )
        return list((await self.session.scalars(stmt)).all())

    async def yearly(self, chantier_ids: Collection[uuid.UUID]) -> Sequence[RowMapping]:
        s = CommitmentRollup.__table__.alias("s")
        stmt = (
            select(s.c.year, *(m.label(n) for n, m in measures_of(s).items()))
            .where(s.c.chantier_id.in_(list(chantier_ids)))
            .group_by(s.c.year)
        )
        return (await self.session.execute(stmt)).mappings().all()

    async def targets(self, chantier_ids: Collection[uuid.UUID]) -> dict[int, Decimal]:
        stmt = (
            select(ChantierTarget.year, func.sum(ChantierTarget.amount))
            .where(ChantierTarget.chantier_id.in_(list(chantier_ids)))
            .group_by(ChantierTarget.year)
        )
        return {year: amount for year, amount in (await self.session.execute(stmt)).all()}

    async def physical(self, chantier_ids: Collection[uuid.UUID]) -> Physical:
        """Σ progress × weight, Σ weight and the number of actions, cancelled ones left out."""
        stmt = select(
            func.coalesce(func.sum(Action.progress * Action.weight), 0).label("weighted"),
            func.coalesce(func.sum(Action.weight), 0).label("weight"),
            func.count().label("actions"),
        ).where(
            Action.chantier_id.in_(list(chantier_ids)),
            Action.status != ActionStatus.cancelled.value,
        )
        weighted, weight, actions = (await self.session.execute(stmt)).one()
        return Physical(int(weighted), int(weight), int(actions))
