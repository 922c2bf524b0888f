"""Cash-flow rules: the time axis, the cells' shape, the summary's coverage ratio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.cashflow.repository import CashflowRepository
from app.cashflow.schemas import CashflowCell, CashflowResponse, CashflowSummary
from app.cashflow.statements import AMOUNTS, MEASURES, CashflowQuery
from app.config import Settings
from app.reporting.pacing import Pacer
from app.reporting.schemas import EntityRef
from app.reporting.service import CELLS_PER_TURN, TooManyCells
from app.reporting.statements import ENTITIES, Cut, OrderKey

YEAR_PLACES = Decimal("0.01")
COVERAGE_FORMULA = (
    "remaining at the end of `as_of` ÷ (Σ paid in `as_of` − 2, `as_of` − 1 and `as_of` ÷ 3)"
)


def coverage_ratio(remaining: Decimal, paid_last_three_years: Decimal) -> Decimal | None:
    """Years of payments at the pace of the last three years; None when that pace is nil."""
    if paid_last_three_years <= 0:
        return None
    return (remaining * 3 / paid_last_three_years).quantize(YEAR_PLACES, ROUND_HALF_EVEN)


def cell(row: RowMapping, drilldown: tuple[str, ...]) -> CashflowCell:
    values: dict[str, Any] = {m: row[m] for m in MEASURES}
    for dim in drilldown:
        if dim in ENTITIES:
            id_ = row[f"{dim}_id"]
            values[dim] = (
                None
                if id_ is None
                else EntityRef(id=id_, code=row[f"{dim}_code"], name=row[f"{dim}_name"])
            )
        else:
            values[dim] = row[dim]
    values["year"] = row["year"]
    if row["month"] is not None:
        values["month"] = f"{row['year']:04d}-{row['month']:02d}"
    return CashflowCell(**values)


class CashflowService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repo = CashflowRepository(session)
        self.settings = settings

    async def cube(
        self,
        query: CashflowQuery,
        page: int,
        as_of: int,
    ) -> CashflowResponse:
        found = await self.repo.page(query, as_of)  # past the end: no cells, still the counts
        self._within_ceiling(found.total_cells)
        cells: list[CashflowCell] = []
        pacer = Pacer()
        for start in range(0, len(found.cells), CELLS_PER_TURN):
            if start:  # thousands of cells take a while: let other requests run between chunks
                await pacer.chunk_done()
            chunk = found.cells[start : start + CELLS_PER_TURN]
            cells += [cell(row, query.drilldown) for row in chunk]
        totals = {
            name: found.totals[f"total_{name}"] for name in (*MEASURES, "paid_last_three_years")
        }
        return CashflowResponse(
            axis=query.axis,
            drilldown=[*query.drilldown, query.axis],
            cells=cells,
            summary=CashflowSummary(
                **{m: totals[m] for m in AMOUNTS},
                as_of=as_of,
                remaining=totals["remaining"],
                paid_last_three_years=totals["paid_last_three_years"],
                coverage_ratio=coverage_ratio(totals["remaining"], totals["paid_last_three_years"]),
            ),
            total_cell_count=found.total_cells,
            page=page,
            page_size=query.limit or 0,
            overlapping=found.in_cells > int(found.totals["total_facts"]),
        )

    async def stream(self, query: CashflowQuery) -> AsyncIterator[RowMapping]:
        """The cells' rows one after the other, as the CSV export writes them; TooManyCells
        before the first if they are too many."""
        checked = False
        async for row in self.repo.stream_cells(query):
            if not checked:
                self._within_ceiling(int(row["total_cell_count"]))
                checked = True
            yield row

    def _within_ceiling(self, total_cells: int) -> None:
        if total_cells > self.settings.aggregates.max_cells:
            raise TooManyCells(self.settings.aggregates.max_cells)


def query_of(
    drilldown: tuple[str, ...],
    cut: Cut,
    axis: str,
    order: tuple[OrderKey, ...],
    page: int | None,
    size: int | None,
    max_cells: int,
) -> CashflowQuery:
    """`year` in a drilldown is the time axis itself: it is always there."""
    dims = tuple(d for d in drilldown if d != "year")
    offset = ((page or 1) - 1) * size if size is not None else 0
    return CashflowQuery(dims, cut, axis, order, size, offset, max_cells)
