"""Priority inputs and outputs."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from app.common.fields import Code, LongText, Text
from app.common.schemas import OMITTED, Input, ResourceRead, read_example

_EXAMPLE: JsonDict = {
    "code": "EMPLOI",
    "name": "Le soutien à l'emploi",
    "description": "Filières stratégiques et activité commerciale du quotidien.",
    "position": 1,
}


_PROGRAMME = "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


class PriorityCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    programme_id: uuid.UUID | None = Field(
        default=None,
        description="The programme it belongs to; may be left out while there is only one.",
    )
    code: Code
    name: Text
    description: LongText = ""
    position: int = Field(default=0, ge=0, le=10_000, strict=True)


class PriorityUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Soutien à l'emploi"}]})

    code: Code = Field(default=OMITTED)
    name: Text = Field(default=OMITTED)
    description: LongText = Field(default=OMITTED)
    position: int = Field(default=OMITTED, ge=0, le=10_000, strict=True)


class PriorityRead(ResourceRead):
    model_config = read_example(_EXAMPLE, programme_id=_PROGRAMME)

    programme_id: uuid.UUID
    code: str
    name: str
    description: str
    position: int


@dataclass
class PriorityFilters:
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes' (repeatable).")
    ] = None
    code: Annotated[list[Code] | None, Query(description="Only these codes (repeatable).")] = None
