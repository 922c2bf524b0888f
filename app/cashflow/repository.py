"""The cash-flow SQL's execution: cells, the summary's totals, and yearly figures for progress
and /v1/summary."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.cashflow.statements import (
    YEARLY,
    YEARLY_OF_CHANTIERS,
    YEARLY_OF_PROGRAMME,
    CashflowQuery,
    cells_statement,
    summary_statement,
)
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

    async def yearly(
        self,
        *,
        chantier_ids: Collection[uuid.UUID] | None = None,
        programme_id: uuid.UUID | None = None,
    ) -> dict[int, RowMapping]:
        """Year → committed, scheduled, paid, remaining (at the year's end), over these
        chantiers, this programme, or everything."""
        if chantier_ids is not None:
            result = await self.session.execute(
                YEARLY_OF_CHANTIERS, {"chantier_ids": list(chantier_ids)}
            )
        elif programme_id is not None:
            result = await self.session.execute(YEARLY_OF_PROGRAMME, {"programme_id": programme_id})
        else:
            result = await self.session.execute(YEARLY)
        return {row["year"]: row for row in result.mappings().all()}
