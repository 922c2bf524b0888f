"""The cash-flow SQL's execution: the cells and the summary's totals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.cashflow.statements import CashflowQuery, cells_statement, summary_statement
from app.reporting.statements import Cut


class CashflowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cells(self, query: CashflowQuery) -> Sequence[RowMapping]:
        """One page of cells, each row also carrying the cell count and the facts in cells."""
        result = await self.session.execute(cells_statement(query))
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def stream_cells(self, query: CashflowQuery) -> AsyncIterator[RowMapping]:
        """Every cell, fetched in chunks by a server-side cursor (the CSV export)."""
        result = await self.session.stream(cells_statement(query).execution_options(yield_per=1000))
        async for row in result.mappings():
            yield row

    async def summary(self, cut: Cut, axis: str, as_of: int) -> RowMapping:
        fine = bool(cut.action or cut.commune)
        result = await self.session.execute(summary_statement(cut, axis, fine), {"as_of": as_of})
        row: RowMapping = result.mappings().one()
        return row
