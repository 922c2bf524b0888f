"""Aggregate filters and outputs: measures as decimal strings, cells keyed by their dimensions."""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from app.common.fields import Money
from app.milestones.schemas import LATE_ACTION_RULE
from app.models.enums import CommitmentStatus, Instrument, PartnerKind

RATE_PLACES = Decimal("0.000001")


def _list(description: str) -> Any:
    return Query(description=description)


@dataclass
class AggregateFilters:
    """The filters of /v1/aggregates/commitments as sent: entities by id or code, a repeated
    parameter meaning OR. The service resolves them into the statements' `Cut`."""

    year: Annotated[
        list[Annotated[int, Field(ge=1900, le=2200)]] | None, _list("Budget years.")
    ] = None
    year_from: Annotated[
        int | None, Query(ge=1900, le=2200, description="From this budget year.")
    ] = None
    year_to: Annotated[int | None, Query(ge=1900, le=2200, description="To this year.")] = None
    programme: Annotated[list[str] | None, _list("Programme ids or codes.")] = None
    priority: Annotated[list[str] | None, _list("Priority ids or codes.")] = None
    chantier: Annotated[list[str] | None, _list("Chantier ids or codes.")] = None
    action: Annotated[list[str] | None, _list("Action ids or codes.")] = None
    partner: Annotated[list[str] | None, _list("Partner ids or codes.")] = None
    partner_kind: Annotated[list[PartnerKind] | None, _list("Partner kinds.")] = None
    status: Annotated[list[CommitmentStatus] | None, _list("Commitment statuses.")] = None
    instrument: Annotated[list[Instrument] | None, _list("Instruments.")] = None
    commune: Annotated[
        list[Annotated[str, Field(pattern=r"^([0-9]{5}|2[AB][0-9]{3})$")]] | None,
        _list("INSEE codes: the shares of the money placed in these communes."),
    ] = None
    epci: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9]{9}$")]] | None,
        _list("EPCI SIREN codes: the shares placed in their member communes."),
    ] = None
    departement: Annotated[
        list[Annotated[str, Field(pattern=r"^([0-9]{2,3}|2[AB])$")]] | None,
        _list("Département codes: the shares placed in their communes."),
    ] = None


async def aggregate_filters(**filters: Any) -> AggregateFilters:
    """The filters as a dependency (`Depends(aggregate_filters)`): a coroutine, which FastAPI
    awaits, where the dataclass itself would be called in a worker thread, a thread hop on
    every request (signature: the dataclass's, so the parameters are the same)."""
    return AggregateFilters(**filters)


aggregate_filters.__signature__ = inspect.signature(AggregateFilters)  # type: ignore[attr-defined]


def ratio(numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    """numerator / denominator rounded half-even to 6 decimals; None when nothing to divide by."""
    if denominator is None or denominator == 0:
        return None
    return (numerator / denominator).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


Rate = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.6f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "pattern": r"^[0-9]+\.[0-9]{6}$",
            "description": 'A ratio as a decimal string, 6 decimals ("0.452301" is 45.2301 %).',
            "examples": ["0.452301"],
        }
    ),
]


SignedMoney = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]+\.[0-9]{2}$",
            "format": "decimal",
            "description": "An amount in euros, two decimals; negative when more was returned "
            "(reversals, negative adjustments) than paid in the period.",
            "examples": ["1250000.00"],
        }
    ),
]
CASHFLOW_SCHEDULED = "Σ schedule lines of the year, over `committed` commitments."
CASHFLOW_PAID = (
    "Σ signed payments dated in the year (disbursement +amount, reversal −amount, adjustment "
    "its own sign), over `committed` commitments."
)
CASHFLOW_REMAINING = "At the year's end: committed to date − paid to date (restes à payer)."


class EntityRef(BaseModel):
    id: uuid.UUID
    code: str
    name: str


class Measures(BaseModel):
    planned: Money = Field(description="Σ amount over `planned` commitments.")
    committed: Money = Field(description="Σ amount over `committed` commitments.")
    disbursed: Money = Field(description="Σ disbursed_amount over `committed` commitments.")
    count: int = Field(description="Commitments matched, whatever their status.")
    execution_rate: Rate | None = Field(
        description="disbursed / committed; null when nothing is committed."
    )


class AggregateCell(Measures):
    """One cell: the drilldown's dimensions (only those) and the measures.

    An entity is null for the commitments it does not apply to (a chantier serving no
    priority, an action without communes)."""

    programme: EntityRef | None = None
    priority: EntityRef | None = None
    chantier: EntityRef | None = None
    action: EntityRef | None = Field(default=None, description="`name` is the action's title.")
    partner: EntityRef | None = None
    partner_kind: PartnerKind | None = None
    year: int | None = None
    status: CommitmentStatus | None = None
    instrument: Instrument | None = None
    commune: str | None = Field(default=None, description="INSEE code.")
    epci: str | None = Field(default=None, description="The EPCI's SIREN code.")
    departement: str | None = Field(default=None, description="The département's code.")
    population: int | None = Field(
        default=None,
        description=(
            "Under a territorial drilldown: the population of the cell's finest territory "
            "(commune, else EPCI, else département) in the shipped referential; null when the "
            "referential has none (a delegated commune, no commune)."
        ),
    )
    committed_per_inhabitant: Money | None = Field(
        default=None,
        description="committed / population, rounded half-even to the cent (territorial cells).",
    )
    disbursed_per_inhabitant: Money | None = Field(
        default=None,
        description="disbursed / population, rounded half-even to the cent (territorial cells).",
    )


class AggregateResponse(BaseModel):
    drilldown: list[str]
    cells: list[AggregateCell]
    summary: Measures = Field(
        description="The true total over the filtered commitments, each counted once."
    )
    total_cell_count: int
    page: int
    page_size: int
    overlapping: bool = Field(
        description=(
            "True when a commitment's money counts in several cells (its chantier serves "
            "several priorities): then the cells add up to more than the summary. Territorial "
            "dimensions split the money instead (their cells add up to the summary exactly), "
            "though `count` counts a commitment in each territory it has a share in."
        )
    )


class ProgressFigures(BaseModel):
    target: Money | None = Field(description="The target set, if any (summed over chantiers).")
    planned: Money
    committed: Money
    disbursed: Money
    commitment_rate: Rate | None = Field(description="committed / target; null without target.")
    execution_rate: Rate | None = Field(description="disbursed / committed.")


class YearProgress(ProgressFigures):
    year: int
    scheduled: Money = Field(description=CASHFLOW_SCHEDULED)
    paid: SignedMoney = Field(description=CASHFLOW_PAID)
    remaining: SignedMoney = Field(description=CASHFLOW_REMAINING)


class CashflowYear(BaseModel):
    """One year of money over time in /v1/summary (GET /v1/aggregates/cashflow has the rest)."""

    year: int
    committed: Money = Field(description="Σ amount of the `committed` commitments of the year.")
    scheduled: Money = Field(description=CASHFLOW_SCHEDULED)
    paid: SignedMoney = Field(description=CASHFLOW_PAID)
    remaining: SignedMoney = Field(description=CASHFLOW_REMAINING)


class PhysicalProgress(BaseModel):
    percent: (
        Annotated[
            Decimal,
            PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
            WithJsonSchema({"type": "string", "format": "decimal", "examples": ["42.50"]}),
        ]
        | None
    ) = Field(description="Σ(progress × weight) / Σ weight, in percent; null if Σ weight = 0.")
    actions: int = Field(description="Actions counted (cancelled actions are left out).")
    total_weight: int


class Progress(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    programme: EntityRef = Field(description="The programme it belongs to, whose period it spans.")
    years: list[YearProgress] = Field(description="Every year of its programme's period.")
    totals: ProgressFigures = Field(description="Over every year of its programme's period.")
    physical_progress: PhysicalProgress
    late_actions: int = Field(description="How many of its actions are late. " + LATE_ACTION_RULE)


class ChantierLateness(BaseModel):
    chantier: EntityRef
    actions: int = Field(description="Its actions, whatever their status.")
    late_actions: int = Field(description="Those of its actions that are late.")


class ProgrammeSummary(BaseModel):
    totals: Measures
    by_programme: list[AggregateCell] = Field(
        description="One cell per programme; they add up to `totals`, to the cent."
    )
    by_priority: list[AggregateCell] = Field(
        description="Overlapping: a chantier serving two priorities counts in both."
    )
    by_chantier: list[AggregateCell]
    by_partner: list[AggregateCell]
    by_year: list[AggregateCell]
    cashflow_by_year: list[CashflowYear] = Field(
        description="Committed, scheduled, paid and remaining per year that has one of them "
        "(payments run past a programme's end), in year order."
    )
    late_actions: int = Field(description="How many actions are late. " + LATE_ACTION_RULE)
    late_actions_by_chantier: list[ChantierLateness] = Field(
        description="Every chantier with its actions and late actions, the latest first "
        "(most late actions, then code); they add up to `late_actions`."
    )
