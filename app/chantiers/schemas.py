"""Chantier inputs and outputs, with the priorities served and the yearly targets."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from app.common.fields import Code, LongText, Money, PositiveMoney, Text, Year
from app.common.schemas import OMITTED, Input, ResourceRead, read_example


class TargetIn(Input):
    year: Year
    amount: PositiveMoney


class TargetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year: int
    amount: Money


_EXAMPLE: JsonDict = {
    "number": 5,
    "code": "TRANSPORTS",
    "name": "Investir 350 M€ chaque année dans les transports alternatifs",
    "description": "",
    "priority_ids": ["0b6b6c2e-8f0e-4a43-9d0c-3f5b1c1e2a10"],
    "targets": [{"year": 2024, "amount": "350000000.00"}],
}

_PROGRAMME = "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
PriorityIds = list[uuid.UUID]
Targets = list[TargetIn]


class ChantierCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    programme_id: uuid.UUID | None = Field(
        default=None,
        description="The programme it belongs to; may be left out while there is only one.",
    )
    number: int = Field(ge=1, le=1000, strict=True)
    code: Code
    name: Text
    description: LongText = ""
    priority_ids: PriorityIds = Field(default_factory=list, max_length=100)
    targets: Targets = Field(default_factory=list, max_length=200)


class ChantierUpdate(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"targets": [{"year": 2025, "amount": "350000000.00"}]}]}
    )

    number: int = Field(default=OMITTED, ge=1, le=1000, strict=True)
    code: Code = Field(default=OMITTED)
    name: Text = Field(default=OMITTED)
    description: LongText = Field(default=OMITTED)
    priority_ids: PriorityIds = Field(
        default=OMITTED, max_length=100, description="Replaces the whole set."
    )
    targets: Targets = Field(default=OMITTED, max_length=200, description="Replaces every target.")


class ChantierRead(ResourceRead):
    model_config = read_example(_EXAMPLE, programme_id=_PROGRAMME)

    programme_id: uuid.UUID
    number: int
    code: str
    name: str
    description: str
    priority_ids: list[uuid.UUID]
    targets: list[TargetRead]


@dataclass
class ChantierFilters:
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes' (repeatable).")
    ] = None
    code: Annotated[list[Code] | None, Query(description="Only these codes (repeatable).")] = None
    number: Annotated[
        list[Annotated[int, Field(ge=1, le=1000)]] | None,
        Query(description="Only these numbers (repeatable)."),
    ] = None
    priority_id: Annotated[
        list[uuid.UUID] | None,
        Query(description="Only chantiers serving one of these priorities (repeatable)."),
    ] = None
