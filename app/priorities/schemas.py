"""Priority inputs and outputs."""

from dataclasses import dataclass

from fastapi import Query
from pydantic import ConfigDict, Field

from app.common.money import Code, LongText, Text
from app.common.schemas import Input, ResourceRead

_EXAMPLE = {
    "code": "EMPLOI",
    "name": "Le soutien à l'emploi",
    "description": "Filières stratégiques et activité commerciale du quotidien.",
    "position": 1,
}


class PriorityCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    code: Code
    name: Text
    description: LongText = ""
    position: int = Field(default=0, ge=0, le=10_000)


class PriorityUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Soutien à l'emploi"}]})

    code: Code = Field(default=None)
    name: Text = Field(default=None)
    description: LongText = Field(default=None)
    position: int = Field(default=None, ge=0, le=10_000)


class PriorityRead(ResourceRead):
    code: str
    name: str
    description: str
    position: int


@dataclass
class PriorityFilters:
    code: list[str] | None = Query(None, description="Only these codes (repeatable).")
