"""Financing plan inputs and outputs: costs and lines in, shares, secured money and gap out;
money as decimal strings."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.config import JsonValue

from app.common.fields import Money, PositiveMoney
from app.common.schemas import Input, ResourceRead
from app.models.enums import Instrument
from app.reporting.schemas import Rate

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
