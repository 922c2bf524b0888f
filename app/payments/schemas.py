"""Payment inputs and outputs: dated, signed by kind, money as decimal strings."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Body, Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict

from app.commitments.schemas import ExternalRef
from app.common.fields import IsoDate, LongText, format_money
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import PaymentKind
from app.sync.schemas import MAX_BATCH, ReceivedBatch

SIGNED_MONEY_PATTERN = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
_SIGNED_MONEY_RE = re.compile(SIGNED_MONEY_PATTERN)


def _parse_signed_money(value: Any) -> Decimal:
    if isinstance(value, Decimal):  # from the database or Python callers, never from JSON
        return value
    if not isinstance(value, str):
        raise ValueError('must be a string such as "1250.00", not a JSON number')
    if not _SIGNED_MONEY_RE.fullmatch(value):
        raise ValueError(
            "must be a decimal string with at most 13 digits before the point and at most "
            'two decimals, such as "1250.00" or, for an adjustment, "-1250.00" (no exponent, '
            "NaN or Infinity)"
        )
    return Decimal(value)


SignedMoney = Annotated[
    Decimal,
    BeforeValidator(_parse_signed_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SIGNED_MONEY_PATTERN,
            "format": "decimal",
            "description": (
                "An amount in euros, as a decimal string with at most two decimals: greater "
                "than 0 for a disbursement or a reversal, any amount but 0 for an adjustment "
                "(negative when it lowers the total)."
            ),
            "examples": ["250000.00"],
        }
    ),
]

KIND_DESCRIPTION = (
    "`disbursement` (money paid, counts +amount), `reversal` (money returned, counts -amount), "
    "`adjustment` (a correction of the total, counts its own signed amount)."
)


def sign_error(kind: PaymentKind, amount: Decimal) -> str | None:
    """Why `amount` cannot be a payment of `kind` (None: it can)."""
    if kind is PaymentKind.adjustment:
        return "must not be 0" if amount == 0 else None
    return None if amount > 0 else f"must be greater than 0 for a {kind.value}"


PAYMENT_EXAMPLE: JsonDict = {
    "paid_on": "2025-04-30",
    "kind": "disbursement",
    "amount": "250000.00",
    "external_ref": "BDT-VERST-2025-0007",
    "label": "Versement n°2",
}


class PaymentFields(Input):
    """What a payment says, whoever sends it."""

    paid_on: IsoDate = Field(
        description="When the money moved; never before the commitment's year."
    )
    kind: PaymentKind = Field(default=PaymentKind.disbursement, description=KIND_DESCRIPTION)
    amount: SignedMoney
    label: LongText = ""

    @field_validator("amount")
    @classmethod
    def _signed_by_kind(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        kind = info.data.get("kind")
        error = sign_error(kind, value) if kind is not None else None
        if error is not None:
            raise ValueError(error)
        return value


class PaymentCreate(PaymentFields):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    external_ref: ExternalRef | None = None


class PaymentUpdate(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paid_on": "2025-05-02", "label": "Versement n°2"}]}
    )

    paid_on: IsoDate = Field(default=OMITTED)
    kind: PaymentKind = Field(default=OMITTED, description=KIND_DESCRIPTION)
    amount: SignedMoney = Field(default=OMITTED)
    external_ref: ExternalRef | None = None
    label: LongText = Field(default=OMITTED)


class PaymentRead(ResourceRead):
    model_config = read_example(
        PAYMENT_EXAMPLE,
        commitment_id="9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
        partner_id="1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90",
    )

    commitment_id: uuid.UUID
    partner_id: uuid.UUID = Field(description="The commitment's partner (read-only).")
    paid_on: date
    kind: PaymentKind
    amount: SignedMoney
    external_ref: str | None
    label: str


# --- partners: by their own references ---------------------------------------------------------

_PUT_EXAMPLE: JsonDict = {
    "commitment_external_ref": "BDT-PRET-2024-0042",
    **{k: v for k, v in PAYMENT_EXAMPLE.items() if k != "external_ref"},
}


class PaymentPut(PaymentFields):
    """The whole payment as the partner holds it; the commitment named by the partner's own
    reference for it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PUT_EXAMPLE]})

    commitment_external_ref: ExternalRef


class PaymentBatchItem(PaymentPut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"external_ref": "BDT-VERST-2025-0007", **_PUT_EXAMPLE}]}
    )

    external_ref: ExternalRef


class PaymentBatch(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{"external_ref": "BDT-VERST-2025-0007", **_PUT_EXAMPLE}]}]
        }
    )

    items: list[PaymentBatchItem] = Field(max_length=MAX_BATCH, description="Up to 10,000 items.")


class ReceivedPaymentBatch(ReceivedBatch[PaymentBatchItem]):
    """A payment batch as validated at the HTTP edge (see ReceivedBatch): every bad item
    reported with the rules the service checks against the database."""

    batch_model = PaymentBatch
    item_model = PaymentBatchItem


PaymentBatchBody = Annotated[
    ReceivedPaymentBatch,
    Body(),
    PlainValidator(ReceivedPaymentBatch.validate),
    WithJsonSchema({"$ref": "#/components/schemas/PaymentBatch"}),
]
"""Documented as a PaymentBatch; the route gets every item checked (see ReceivedBatch)."""


class PaymentBatchResult(BaseModel):
    created: int = Field(description="Payments that did not exist.")
    updated: int = Field(description="Payments that existed and changed (new version).")
    unchanged: int = Field(description="Payments already identical: no new version.")


@dataclass
class PaymentFilters:
    kind: Annotated[list[PaymentKind] | None, Query(description="Only these kinds.")] = None
    external_ref: Annotated[
        list[str] | None, Query(description="Only these partner references.")
    ] = None
    paid_from: Annotated[
        IsoDate | None, Query(description="Only payments on or after this date (YYYY-MM-DD).")
    ] = None
    paid_to: Annotated[
        IsoDate | None, Query(description="Only payments on or before this date (YYYY-MM-DD).")
    ] = None
