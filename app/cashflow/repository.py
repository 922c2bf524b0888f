"""The cash-flow SQL's execution: a page of cells with the summary's totals, or every cell."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.cashflow.statements import CashflowQuery, cells_statement, cube_params, cube_statement


@dataclass(frozen=True)
class CubePage:
    """One page of cells and what the answer says besides (see `cube_statement`)."""

    cells: Sequence[RowMapping]
    total_cells: int
    in_cells: int  # the facts summed into the cells (more than the summary's if they overlap)
    totals: RowMapping  # `total_<measure>`, `total_facts`


class CashflowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, query: CashflowQuery, as_of: int) -> CubePage:
        """One page of cells, the number of cells and the summary's totals: one round trip."""
        result = await self.session.execute(cube_statement(query), cube_params(query, as_of))
        rows = result.mappings().all()
        head = rows[0]  # the statement always returns this row, even without cells
        cells = rows if head["in_page"] else ()
        return CubePage(cells, int(head["total_cell_count"]), int(head["facts_in_cells"]), head)

    async def stream_cells(self, query: CashflowQuery) -> AsyncIterator[RowMapping]:
        """Every cell, fetched in chunks by a server-side cursor (the CSV export)."""
        stmt = cells_statement(query).execution_options(yield_per=1000)
        result = await self.session.stream(stmt, cube_params(query))
        async for row in result.mappings():
            yield row
