"""The aggregate SQL's execution, and the reads behind progress and the filters' codes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    RowMapping,
    Select,
    Text,
    Uuid,
    any_,
    bindparam,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Action,
    Chantier,
    Partner,
    Priority,
    Programme,
)
from app.reporting.statements import (
    CellQuery,
    Cut,
    cells_statement,
    cut_params,
    page_params,
    page_statement,
    totals_statement,
)
from app.reporting.summaries import (
    CASHFLOW_YEARS,
    LATE_ACTIONS,
    PROGRAMME_SUMMARY,
    PROGRESS,
    SUMMARY,
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
    money_in: Decimal  # Σ planned + committed over every cell
    totals: Totals


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
        return CellPage(
            cells,
            int(head["total_cell_count"]),
            int(head["count_in_cells"]),
            head["money_in_cells"],
            totals,
        )

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

    async def late_actions(self, programme_id: uuid.UUID | None) -> Sequence[RowMapping]:
        """Per chantier `id`, `code`, `name`, `actions`, `late_actions`, then the totals row
        (`id` null); of every programme or of one. See `_late_actions_statement`."""
        result = await self.session.execute(
            LATE_ACTIONS[programme_id is not None], {"programme_id": programme_id}
        )
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def resolve(
        self, requested: Mapping[str, Collection[str]]
    ) -> dict[str, dict[str, list[uuid.UUID]]]:
        """For each entity asked for, map each value (an id or a code) to the ids of the
        entities it names: a priority's or a chantier's code names one in each programme that
        has it. Every entity in one statement, one round trip."""
        params: dict[str, Any] = {}
        for entity, values in requested.items():
            ids = []
            for value in values:
                try:
                    ids.append(uuid.UUID(value))
                except ValueError:
                    continue
            params[f"{entity}_ids"], params[f"{entity}_codes"] = ids, list(values)
        found: dict[str, dict[str, list[uuid.UUID]]] = {entity: {} for entity in requested}
        rows = await self.session.execute(_resolve_statement(tuple(requested)), params)
        for entity, id_, code in rows.all():
            found[entity].setdefault(code, []).append(id_)
            found[entity][str(id_)] = [id_]
        return found

    # -- progress ------------------------------------------------------------------------------

    async def progress(self, kind: str, id: uuid.UUID) -> Sequence[RowMapping]:
        """A row per year of the chantier's or priority's period (none: no such entity); see
        `_progress_statement`."""
        result = await self.session.execute(PROGRESS[kind], {"id": id})
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def cashflow_years(
        self, scope: str, scope_id: uuid.UUID | None = None
    ) -> dict[int, RowMapping]:
        """Year → committed, scheduled, paid and remaining of every programme (`all`) or of
        one programme, chantier or priority; see `_cashflow_years_statement`."""
        result = await self.session.execute(CASHFLOW_YEARS[scope], {"scope_id": scope_id})
        return {row["year"]: row for row in result.mappings()}


_NAMED_BY_CODE: dict[str, Any] = {
    "programme": Programme,
    "priority": Priority,
    "chantier": Chantier,
    "action": Action,
    "partner": Partner,
}


@lru_cache(maxsize=64)
def _resolve_statement(entities: tuple[str, ...]) -> Select[Any]:
    """The ids and codes of the `entities` whose id or code is in `<entity>_ids` or
    `<entity>_codes` (arrays: the text is the same whatever their lengths), ordered by id."""
    parts = []
    for entity in entities:
        model = _NAMED_BY_CODE[entity]
        ids = bindparam(f"{entity}_ids", type_=ARRAY(Uuid))
        codes = bindparam(f"{entity}_codes", type_=ARRAY(Text))
        parts.append(
            select(literal(entity).label("entity"), model.id, model.code).where(
                or_(model.id == any_(ids), model.code == any_(codes))
            )
        )
    rows = union_all(*parts).subquery("found")
    return select(rows).order_by(rows.c.entity, rows.c.id)
