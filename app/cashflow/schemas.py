"""Cash-flow outputs: measures as decimal strings, cells keyed by their dimensions and their
year (or month)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from app.common.fields import Money
from app.models.enums import CommitmentStatus, Instrument, PartnerKind
from app.reporting.schemas import EntityRef, SignedMoney

Years = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["3.42"]}),
]

COMMITTED = "Σ amount of the `committed` commitments of the period's year (by commitment year)."
SCHEDULED = "Σ schedule lines of the period's year, over `committed` commitments."
PAID = (
    "Σ signed payments dated in the period (disbursement +amount, reversal −amount, "
    "adjustment its own sign), over `committed` commitments."
)
REMAINING = (
    "At the period's end: committed to date − paid to date (a running sum over the cell's "
    "periods, from its first)."
)


class CashflowMeasures(BaseModel):
    committed: Money = Field(description=COMMITTED)
    scheduled: Money = Field(description=SCHEDULED)
    paid: SignedMoney = Field(description=PAID)
    remaining: SignedMoney = Field(description=REMAINING)


class CashflowCell(CashflowMeasures):
    """One cell: the drilldown's dimensions (only those), its year (and month) and the
    measures."""

    programme: EntityRef | None = None
    priority: EntityRef | None = None
    chantier: EntityRef | None = None
    action: EntityRef | None = Field(default=None, description="`name` is the action's title.")
    partner: EntityRef | None = None
    partner_kind: PartnerKind | None = None
    status: CommitmentStatus | None = None
    instrument: Instrument | None = None
    commune: str | None = Field(default=None, description="INSEE code.")
    year: int
    month: str | None = Field(
        default=None, description="With `axis=month`: `YYYY-MM`.", examples=["2024-03"]
    )


class CashflowSummary(BaseModel):
    committed: Money = Field(description="Σ committed over the years of the filters.")
    scheduled: Money = Field(description="Σ scheduled over the years of the filters.")
    paid: SignedMoney = Field(description="Σ paid over the years of the filters.")
    as_of: int = Field(description="The reference year (`as_of`, by default the current year).")
    remaining: SignedMoney = Field(
        description="At the end of `as_of`: committed up to `as_of` − paid up to `as_of`."
    )
    paid_last_three_years: SignedMoney = Field(
        description="Σ paid in the years `as_of` − 2 to `as_of`."
    )
    coverage_ratio: Years | None = Field(
        description=(
            "remaining ÷ (paid_last_three_years ÷ 3): how many years of payments at the recent "
            "pace remain, 2 decimals rounded half-even; null when nothing (or a negative net) "
            "was paid in those three years."
        )
    )


class CashflowResponse(BaseModel):
    axis: str = Field(description="`year` or `month`.")
    drilldown: list[str]
    cells: list[CashflowCell]
    summary: CashflowSummary = Field(
        description="The true totals over the filtered commitments, each counted once."
    )
    total_cell_count: int
    page: int
    page_size: int
    overlapping: bool = Field(
        description=(
            "True when a figure falls into several cells (a chantier serving several "
            "priorities, an action spanning several communes): the cells then add up to more "
            "than the summary."
        )
    )
