"""Commitment inputs and outputs: money as decimal strings, year inside the programme period."""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Query
from pydantic import ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic.config import JsonDict

from app.common.fields import (
    IDENTIFIER_PATTERN,
    IsoDate,
    LongText,
    Money,
    PositiveMoney,
    Rna,
    Siret,
    StrictIdentifier,
    Year,
)
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import CommitmentStatus, Instrument
from app.schedules.schemas import ScheduleInput

Name = Annotated[str, Field(min_length=1, max_length=500)]
DecisionRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=IDENTIFIER_PATTERN,
        description="The reference of the decision granting it (deliberation, convention).",
        examples=["DEL-2024-0315"],
    ),
    StrictIdentifier,
]

ExternalRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=IDENTIFIER_PATTERN,
        description=(
            "The partner's own identifier; unique per partner, compared exactly: no control "
            "characters, no whitespace at either end (refused, never trimmed)."
        ),
        examples=["BDT-PRET-2024-0042"],
    ),
    StrictIdentifier,  # after the constraints: it runs first, and they stay in the schema
]

COMMITMENT_EXAMPLE: JsonDict = {
    "action_id": "9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
    "partner_id": "1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90",
    "external_ref": "BDT-PRET-2024-0042",
    "year": 2024,
    "amount": "1250000.00",
    "disbursed_amount": "250000.00",
    "instrument": "loan",
    "status": "committed",
    "signed_on": "2024-03-15",
    "label": "Prêt GPI-AmbRE, tranche 2024",
    "beneficiary_name": "Ville de Marseille",
    "beneficiary_siret": "21130055300016",
    "beneficiary_rna": None,
    "decision_ref": "DEL-2024-0315",
    "eu_notified": False,
}


class CommitmentFields(Input):
    """What a commitment says, whoever sends it: the API's create and the partners' PUT."""

    action_id: uuid.UUID
    year: Year
    amount: PositiveMoney
    disbursed_amount: Money = Field(
        default=Decimal("0.00"),
        description=(
            "Paid to date, as a cumulative total; never above amount. Derived from the "
            "commitment's payments: a value sent that differs from their sum is recorded as "
            "one `adjustment` payment of the difference, dated today (negative when lower)."
        ),
    )
    instrument: Instrument
    status: CommitmentStatus = CommitmentStatus.planned
    signed_on: IsoDate | None = None
    label: LongText = ""
    beneficiary_name: Name | None = Field(default=None, description="Who receives the money.")
    beneficiary_siret: Siret | None = None
    beneficiary_rna: Rna | None = Field(
        default=None, description="The beneficiary association's RNA number."
    )
    decision_ref: DecisionRef | None = None
    eu_notified: StrictBool = Field(
        default=False, description="Whether the aid was notified to the European Commission."
    )

    @field_validator("disbursed_amount")
    @classmethod
    def _within_amount(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        amount = info.data.get("amount")
        if amount is not None and value > amount:
            raise ValueError("must not be above amount")
        return value


class CommitmentCreate(CommitmentFields):
    model_config = ConfigDict(json_schema_extra={"examples": [COMMITMENT_EXAMPLE]})

    partner_id: uuid.UUID
    external_ref: ExternalRef | None = None
    schedule: ScheduleInput | None = Field(
        default=None,
        description=(
            "Its payments planned year by year (version 1, `initial`); without it, one line: "
            "its year, its amount."
        ),
    )


class CommitmentUpdate(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"disbursed_amount": "500000.00", "status": "committed"}]}
    )

    action_id: uuid.UUID = Field(default=OMITTED)
    partner_id: uuid.UUID = Field(default=OMITTED)
    external_ref: ExternalRef | None = None
    year: Year = Field(default=OMITTED)
    amount: PositiveMoney = Field(default=OMITTED)
    disbursed_amount: Money = Field(
        default=OMITTED,
        description="A new cumulative total paid: its difference to the payments' sum is "
        "recorded as one `adjustment` payment dated today (nothing when equal).",
    )
    instrument: Instrument = Field(default=OMITTED)
    status: CommitmentStatus = Field(default=OMITTED)
    signed_on: IsoDate | None = None
    label: LongText = Field(default=OMITTED)
    beneficiary_name: Name | None = None
    beneficiary_siret: Siret | None = None
    beneficiary_rna: Rna | None = None
    decision_ref: DecisionRef | None = None
    eu_notified: StrictBool = Field(default=OMITTED)
    schedule: ScheduleInput = Field(
        default=OMITTED,
        description=(
            "A new schedule (a `revised` version), written with the other fields: needed to "
            "change the amount (or move the year past the first line) of a schedule of "
            "several lines."
        ),
    )


class CommitmentRead(ResourceRead):
    model_config = read_example(
        COMMITMENT_EXAMPLE, synthetic=False, programme_id="5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    )

    action_id: uuid.UUID
    programme_id: uuid.UUID = Field(description="Its action's programme (read-only).")
    partner_id: uuid.UUID
    external_ref: str | None
    year: int
    amount: Money
    disbursed_amount: Money = Field(
        description="Paid to date: the sum of the commitment's payments (disbursements and "
        "adjustments count their amount, reversals minus theirs)."
    )
    instrument: Instrument
    status: CommitmentStatus
    signed_on: date | None
    label: str
    beneficiary_name: str | None
    beneficiary_siret: str | None
    beneficiary_rna: str | None
    decision_ref: str | None
    eu_notified: bool
    synthetic: bool = Field(description="True for demo data made by `relance demo`.")


@dataclass
class CommitmentFilters:
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes' (repeatable).")
    ] = None
    action_id: Annotated[list[uuid.UUID] | None, Query(description="Only for these actions.")] = (
        None
    )
    partner_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only from these partners.")
    ] = None
    chantier_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only for actions of these chantiers.")
    ] = None
    year: Annotated[
        list[Annotated[int, Field(ge=1900, le=2200)]] | None,
        Query(description="Only these budget years."),
    ] = None
    status: Annotated[list[CommitmentStatus] | None, Query(description="Only these statuses.")] = (
        None
    )
    instrument: Annotated[list[Instrument] | None, Query(description="Only these instruments.")] = (
        None
    )
    external_ref: Annotated[
        list[str] | None, Query(description="Only these partner references.")
    ] = None
    synthetic: Annotated[
        bool | None, Query(description="Only demo (true) or real (false) data.")
    ] = None
