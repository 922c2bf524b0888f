"""Open-data exports: grant commitments as SCDL rows, and those that cannot be published, with
why. Both walk the same grants in the same order, so together they cover each grant once."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common.fields import format_money
from app.opendata import fiscal, scdl
from app.opendata.repository import FiscalRepository, OpendataRepository
from app.opendata.schemas import GrantFilters
from app.reporting.csv_safety import FormulaSafeWriter

BATCH = 500

UNPUBLISHABLE_COLUMNS = [
    "commitment_id",
    "partner_code",
    "external_ref",
    "year",
    "amount",
    "scdl_column",
    "field",
    "reason",
]


class _Csv:
    """A CSV writer into a buffer that is drained chunk by chunk (memory stays flat). Cells go
    through the formula guard: a text starting with `=`, `+`, `-` or `@` gets a leading `'`
    (the SCDL import removes it again); SIRETs, dates and amounts never start so."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = FormulaSafeWriter(csv.writer(self.buffer, lineterminator="\r\n"))

    def write(self, row: Iterable[Any]) -> None:
        self.writer.writerow(row)

    def drain(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


async def scdl_csv(
    sessionmaker: async_sessionmaker[AsyncSession], filters: GrantFilters
) -> AsyncIterator[str]:
    """The SCDL file: header, then one row per publishable grant, streamed."""
    out = _Csv()
    out.write(scdl.columns())
    yield out.drain()
    async with sessionmaker() as session:
        written = 0
        async for grant in OpendataRepository(session).grants(filters):
            if scdl.problems(grant):
                continue  # listed by unpublishable_csv
            out.write(scdl.row(grant))
            written += 1
            if written % BATCH == 0:
                yield out.drain()
    yield out.drain()


async def unpublishable_csv(
    sessionmaker: async_sessionmaker[AsyncSession], filters: GrantFilters
) -> AsyncIterator[str]:
    """The companion report: one line per reason a grant of the same filters is left out."""
    out = _Csv()
    out.write(UNPUBLISHABLE_COLUMNS)
    yield out.drain()
    async with sessionmaker() as session:
        lines = 0
        async for grant in OpendataRepository(session).grants(filters):
            for problem in scdl.problems(grant):
                out.write(
                    [
                        grant.id,
                        grant.partner_code,
                        grant.external_ref or "",
                        grant.year,
                        format_money(grant.amount),
                        problem.column,
                        problem.field,
                        problem.detail,
                    ]
                )
                lines += 1
                if lines % BATCH == 0:
                    yield out.drain()
    yield out.drain()


async def fiscal_data_package(
    sessionmaker: async_sessionmaker[AsyncSession],
    programme_id: list[uuid.UUID] | None,
    year: list[int] | None,
) -> IO[bytes]:
    """The Fiscal Data Package zip of the commitments of these programmes and years and their
    payments, written whole in a transaction of its own (a server-side cursor needs one), which
    ends before it is sent."""
    async with sessionmaker() as session, session.begin():
        repo = FiscalRepository(session)
        period = await repo.period(programme_id)
        return await fiscal.package_zip(repo.commitments(programme_id, year), period)
