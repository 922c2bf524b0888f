"""Financing plan inputs and outputs: costs and lines in, shares, secured money and gap out;
money as decimal strings."""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.config import JsonValue

from app.common.fields import Money, PositiveMoney
from app.common.schemas import Input, ResourceRead
from app.models.enums import Instrument, PartnerKind
from app.reporting.schemas import EntityRef, Rate

MAX_LINES = 100
"""A hundred partner × instrument lines: more is a mistake, not a plan."""

SHARE_FORMULA = (
    "`share` = the line's amount ÷ the eligible cost, in ten-thousandths, rounded down; the "
    "ten-thousandths the rounding dropped go one each to the lines with the largest remainders "
    "(ties by partner id, then instrument), so the shares add up to the plan's share "
    "(planned ÷ eligible, rounded half up to 4 places): exactly `1.0000` when the plan covers "
    "the eligible cost (null when the eligible cost is 0)."
)
SECURED_FORMULA = (
    "`secured` (per line) = Σ `amount` of the action's `committed` commitments by that partner "
    "through that instrument; `unsecured` = amount − secured, never below 0 (a partner that "
    "committed more than planned shows secured above amount)."
)
LEVERAGE_FORMULA = (
    "`leverage` = (planned − the lead partner's amount) ÷ the lead partner's amount (its lines "
    "of every instrument), rounded half up to 6 places: the euros other partners bring per euro "
    "of the porteur; null without a lead partner."
)

Share = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.4f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "pattern": r"^[0-9]+\.[0-9]{4}$",
            "description": 'A share of the eligible cost, 4 decimals ("0.2500" is 25 %).',
            "examples": ["0.2500"],
        }
    ),
]

_LINES_EXAMPLE: list[JsonValue] = [
    {
        "partner_id": "5d6a0c1e-2b3f-4a5b-8c9d-0e1f2a3b4c5d",
        "instrument": "grant",
        "amount": "4000000.00",
    },
    {
        "partner_id": "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b",
        "instrument": "loan",
        "amount": "6000000.00",
    },
]


class FinancingLineInput(Input):
    partner_id: uuid.UUID = Field(description="The partner that is to pay (`/v1/partners`).")
    instrument: Instrument
    amount: PositiveMoney


class FinancingPlanInput(Input):
    """A whole plan: its lines replace the current ones."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total_cost": "12000000.00",
                    "eligible_cost": "10000000.00",
                    "lead_partner_id": "5d6a0c1e-2b3f-4a5b-8c9d-0e1f2a3b4c5d",
                    "lines": _LINES_EXAMPLE,
                }
            ]
        }
    )

    total_cost: Money = Field(description="What the action costs, in euros.")
    eligible_cost: Money = Field(
        description="The part of the total cost the financers may fund; at most `total_cost`."
    )
    lead_partner_id: uuid.UUID | None = Field(
        default=None,
        description="The porteur, the partner leading the action: one of the lines' partners.",
    )
    lines: list[FinancingLineInput] = Field(
        max_length=MAX_LINES,
        description=(
            "One line per partner and instrument, each amount above 0; they sum to at most the "
            "eligible cost (what is left is the `gap`)."
        ),
    )


class FinancingLineRead(BaseModel):
    partner_id: uuid.UUID
    instrument: Instrument
    amount: Money
    share: Share | None = Field(description=SHARE_FORMULA)
    secured: Money = Field(description=SECURED_FORMULA)
    unsecured: Money


class FinancingPlanRead(ResourceRead):
    """An action's financing plan; its `id` is the action's."""

    action_id: uuid.UUID
    total_cost: Money
    eligible_cost: Money
    lead_partner_id: uuid.UUID | None
    planned: Money = Field(description="Σ the lines' amounts.")
    secured: Money = Field(description="Σ the lines' secured money.")
    unsecured: Money = Field(description="Σ the lines' unsecured money.")
    gap: Money = Field(description="eligible cost − planned: the reste à financer.")
    leverage: Rate | None = Field(description=LEVERAGE_FORMULA)
    lines: list[FinancingLineRead] = Field(description="By partner id, then instrument.")


# -- the financing cube ------------------------------------------------------------------------


def _list(description: str) -> Any:
    return Query(description=description)


@dataclass
class FinancingFilters:
    """The filters of /v1/aggregates/financing as sent: entities by id or code, a repeated
    parameter meaning OR (resolved as the commitments cube resolves its own)."""

    programme: Annotated[list[str] | None, _list("Programme ids or codes.")] = None
    priority: Annotated[list[str] | None, _list("Priority ids or codes.")] = None
    chantier: Annotated[list[str] | None, _list("Chantier ids or codes.")] = None
    action: Annotated[list[str] | None, _list("Action ids or codes.")] = None
    partner: Annotated[list[str] | None, _list("Partner ids or codes (partner level).")] = None
    partner_kind: Annotated[list[PartnerKind] | None, _list("Partner kinds (partner level).")] = (
        None
    )
    instrument: Annotated[
        list[Instrument] | None, _list("The lines' instruments (partner level).")
    ] = None


async def financing_filters(**filters: Any) -> FinancingFilters:
    """The filters as a dependency, awaited (not run in a worker thread as the dataclass would)."""
    return FinancingFilters(**filters)


financing_filters.__signature__ = inspect.signature(FinancingFilters)  # type: ignore[attr-defined]


class FinancingMeasures(BaseModel):
    total_cost: Money | None = Field(
        description="Σ the plans' total costs; null at partner level (costs are per plan)."
    )
    eligible_cost: Money | None = Field(description="Σ the plans' eligible costs; null alike.")
    planned: Money = Field(description="Σ the lines' amounts (at partner level: its lines').")
    secured: Money = Field(description="Σ the lines' secured money.")
    gap: Money | None = Field(description="Σ (eligible cost − planned); null at partner level.")
    leverage: Rate | None = Field(
        description=(
            "Over the plans with a lead partner: Σ (planned − lead's amount) ÷ Σ lead's amount, "
            "rounded half up to 6 places; null without one, and at partner level."
        )
    )
    plans: int = Field(description="Plans counted (at partner level: plans with such lines).")


class FinancingCell(FinancingMeasures):
    """One cell: the drilldown's dimensions (only those) and the measures."""

    programme: EntityRef | None = None
    priority: EntityRef | None = None
    chantier: EntityRef | None = None
    action: EntityRef | None = Field(default=None, description="`name` is the action's title.")
    partner: EntityRef | None = None
    partner_kind: PartnerKind | None = None


class FinancingAggregate(BaseModel):
    drilldown: list[str]
    cells: list[FinancingCell]
    summary: FinancingMeasures = Field(
        description="The true total, each plan (or line) once, whatever the cells overlap."
    )
    total_cell_count: int
    page: int
    page_size: int
    overlapping: bool = Field(description="True when a plan is in several cells (priorities).")
