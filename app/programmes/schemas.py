"""Programme inputs and outputs."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from app.common.fields import Code, LongText, Text, Year
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import ProgrammeStatus
from app.models.programme import TERRITORY_CODE_PATTERN

TerritoryCode = Annotated[
    str,
    Field(
        pattern=TERRITORY_CODE_PATTERN,
        description="The lead collectivity's SIREN (9 digits) or a commune's INSEE code.",
        examples=["200054807"],
    ),
]

_EXAMPLE: JsonDict = {
    "code": "AMP-RR-2020-2026",
    "name": "Aix-Marseille-Provence Relance et Renouveau",
    "description": "Le plan de relance de la Métropole.",
    "start_year": 2020,
    "end_year": 2026,
    "territory_code": "200054807",
    "status": "active",
}


class ProgrammeCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    code: Code
    name: Text
    description: LongText = ""
    start_year: Year
    end_year: Year
    territory_code: TerritoryCode
    status: ProgrammeStatus = ProgrammeStatus.active


class ProgrammeUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "closed"}]})

    code: Code = Field(default=OMITTED)
    name: Text = Field(default=OMITTED)
    description: LongText = Field(default=OMITTED)
    start_year: Year = Field(default=OMITTED)
    end_year: Year = Field(default=OMITTED)
    territory_code: TerritoryCode = Field(default=OMITTED)
    status: ProgrammeStatus = Field(default=OMITTED)


class ProgrammeRead(ResourceRead):
    model_config = read_example(_EXAMPLE)

    code: str
    name: str
    description: str
    start_year: int
    end_year: int
    territory_code: str
    status: ProgrammeStatus


@dataclass
class ProgrammeFilters:
    code: Annotated[list[Code] | None, Query(description="Only these codes (repeatable).")] = None
    status: Annotated[
        list[ProgrammeStatus] | None, Query(description="Only these statuses (repeatable).")
    ] = None
