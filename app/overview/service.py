"""The overview page's figures: the reporting service's own (the numbers `/v1/summary` and
`/v1/aggregates/commitments` answer), arranged for a person to read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import NotFound
from app.models import Programme
from app.overview import charts
from app.overview.repository import OverviewRepository
from app.reporting.schemas import AggregateCell, CashflowYear, Measures, ProgrammeSummary
from app.reporting.service import ReportingService
from app.reporting.statements import Cut, OrderKey

COMMUNE_ROWS = 30  # the largest; the API has them all


@dataclass(frozen=True)
class ProgrammeCard:
    programme: Programme
    figures: Measures


@dataclass(frozen=True)
class ChantierRow:
    number: int
    code: str
    name: str
    target: Decimal | None
    figures: Measures
    bars: list[charts.Bar]


@dataclass(frozen=True)
class CommuneRow:
    code: str | None
    name: str
    figures: AggregateCell


@dataclass(frozen=True)
class ProgrammePage:
    programme: Programme
    summary: ProgrammeSummary
    chantiers: list[ChantierRow]
    curve: charts.Curve
    by_year: list[AggregateCell]
    cashflow: charts.Curve
    """Cumulative committed, scheduled and paid, over every year that has one of them."""
    cashflow_by_year: list[CashflowYear]
    by_partner: list[AggregateCell]
    communes: list[CommuneRow]


_ZERO = Measures(
    planned=Decimal(0), committed=Decimal(0), disbursed=Decimal(0), count=0, execution_rate=None
)


class OverviewService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repo = OverviewRepository(session)
        self.reporting = ReportingService(session, settings)

    async def overview(self) -> tuple[Measures, list[ProgrammeCard]]:
        """The grand total and each programme's totals (`/v1/summary`'s `by_programme`)."""
        summary = await self.reporting.summary()
        cells = {c.programme.id: c for c in summary.by_programme if c.programme is not None}
        cards = [ProgrammeCard(p, cells.get(p.id, _ZERO)) for p in await self.repo.programmes()]
        return summary.totals, cards

    async def programme(self, code: str) -> ProgrammePage:
        programme = await self.repo.programme(code)
        if programme is None:
            raise NotFound(f"No programme has code {code!r}.")
        summary = await self.reporting.summary(programme.id)
        by_chantier = {c.chantier.id: c for c in summary.by_chantier if c.chantier is not None}
        chantiers = await self.repo.chantiers(programme.id)
        widest = max(
            [t for _, t, _ in chantiers if t]
            + [s for _, _, s in chantiers]
            + [c.committed for c in by_chantier.values()],
            default=Decimal(0),
        )
        rows = []
        for chantier, target, scheduled in chantiers:
            cell = by_chantier.get(chantier.id)
            figures: Measures = cell or _ZERO
            values = {
                "target": target,
                "committed": figures.committed,
                "scheduled": scheduled,
                "disbursed": figures.disbursed,
            }
            rows.append(
                ChantierRow(
                    chantier.number,
                    chantier.code,
                    chantier.name,
                    target,
                    figures,
                    charts.bars(values, widest),
                )
            )
        years = list(range(programme.start_year, programme.end_year + 1))
        by_year = {c.year: c for c in summary.by_year}
        curve = charts.curve(
            years,
            {
                "committed": [by_year[y].committed if y in by_year else Decimal(0) for y in years],
                "disbursed": [by_year[y].disbursed if y in by_year else Decimal(0) for y in years],
            },
        )
        cash = summary.cashflow_by_year
        cashflow = charts.curve(
            [c.year for c in cash],
            {
                "committed": [c.committed for c in cash],
                "scheduled": [c.scheduled for c in cash],
                "paid": [c.paid for c in cash],
            },
        )
        communes = await self._communes(programme)
        return ProgrammePage(
            programme,
            summary,
            rows,
            curve,
            [by_year[y] for y in years if y in by_year],
            cashflow,
            cash,
            summary.by_partner,
            communes,
        )

    async def _communes(self, programme: Programme) -> list[CommuneRow]:
        answer = await self.reporting.aggregate(
            ("commune",),
            Cut(programme=(programme.id,)),
            (OrderKey("committed", descending=True), OrderKey("commune", descending=False)),
            page=1,
            size=COMMUNE_ROWS,
        )
        codes = [c.commune for c in answer.cells if c.commune]
        names = await self.repo.territory_names(("commune", "arrondissement_municipal"), codes)
        rows = [
            CommuneRow(c.commune, names.get(c.commune, c.commune) if c.commune else "", c)
            for c in answer.cells
        ]
        return rows
