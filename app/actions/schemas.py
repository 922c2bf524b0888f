"""Action inputs and outputs."""

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from fastapi import Body, Query
from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from app.common.fields import Code, IsoDate, LongText, Text
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.milestones.schemas import LATE_ACTION_RULE
from app.models.enums import ActionStatus
from app.sync.schemas import MAX_BATCH, ReceivedBatch

Insee = Annotated[str, Field(pattern=r"^([0-9]{5}|2[AB][0-9]{3})$", examples=["13055"])]
Progress = Annotated[
    int, Field(ge=0, le=100, strict=True, description="Physical progress, in percent.")
]
Weight = Annotated[
    int,
    Field(
        ge=0,
        le=1_000_000,
        strict=True,
        description="Weight of the action in its chantier's progress.",
    ),
]

_EXAMPLE: JsonDict = {
    "code": "T-TRAM-NORD",
    "chantier_id": "5f0c3f7e-3c1b-4a7e-9b8a-2d6f1e0c9a11",
    "title": "Extension nord du tramway de Marseille",
    "status": "in_progress",
    "progress": 35,
    "weight": 10,
    "start_date": "2022-03-01",
    "end_date": "2025-12-31",
    "communes": ["13055"],
}


def _dates_ordered(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError("end_date must not be before start_date")


class ActionCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    code: Code
    chantier_id: uuid.UUID
    title: Text
    description: LongText = ""
    status: ActionStatus = ActionStatus.planned
    progress: Progress = 0
    weight: Weight = 1
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    communes: list[Insee] = Field(default_factory=list, max_length=200)
    lead_partner_id: uuid.UUID | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _check_dates(self) -> Self:
        _dates_ordered(self.start_date, self.end_date)
        return self


class ActionUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"progress": 60}]})

    code: Code = Field(default=OMITTED)
    chantier_id: uuid.UUID = Field(default=OMITTED)
    title: Text = Field(default=OMITTED)
    description: LongText = Field(default=OMITTED)
    status: ActionStatus = Field(default=OMITTED)
    progress: Progress = Field(default=OMITTED)
    weight: Weight = Field(default=OMITTED)
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    communes: list[Insee] = Field(default=OMITTED, max_length=200)
    lead_partner_id: uuid.UUID | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _check_dates(self) -> Self:
        _dates_ordered(self.start_date, self.end_date)
        return self


class ActionRead(ResourceRead):
    model_config = read_example(
        _EXAMPLE,
        description="",
        lead_partner_id=None,
        external_id=None,
        synthetic=False,
        programme_id="5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
    )

    code: str
    chantier_id: uuid.UUID
    programme_id: uuid.UUID = Field(description="Its chantier's programme (read-only).")
    title: str
    description: str
    status: ActionStatus
    progress: int
    weight: int
    start_date: date | None
    end_date: date | None
    communes: list[str]
    lead_partner_id: uuid.UUID | None
    external_id: str | None
    synthetic: bool = Field(description="True for demo data made by `relance demo`.")


@dataclass
class ActionFilters:
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes' (repeatable).")
    ] = None
    chantier_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only in these chantiers.")
    ] = None
    lead_partner_id: Annotated[list[uuid.UUID] | None, Query(description="Only led by these.")] = (
        None
    )
    status: Annotated[list[ActionStatus] | None, Query(description="Only with these statuses.")] = (
        None
    )
    commune: Annotated[
        list[Annotated[str, Field(pattern=r"^([0-9]{5}|2[AB][0-9]{3})$")]] | None,
        Query(description="Only actions in one of these communes (INSEE codes)."),
    ] = None
    code: Annotated[list[Code] | None, Query(description="Only these codes.")] = None
    external_id: Annotated[list[str] | None, Query(description="Only these external ids.")] = None
    synthetic: Annotated[
        bool | None, Query(description="Only demo (true) or real (false) data.")
    ] = None
    late: Annotated[
        bool | None,
        Query(
            description="Only late actions (true) or only actions that are not late (false). "
            + LATE_ACTION_RULE
            + " Its milestones list shows which (`/v1/actions/{id}/milestones`, `late`)."
        ),
    ] = None


class ActionKey(StrEnum):
    """Which unique field names the stored action an item of a batch replaces."""

    code = "code"
    external_id = "external_id"


class ActionBatchItem(ActionCreate):
    """The whole action as the sender holds it; omitted optional fields take their defaults
    (a replaced action takes them too, as PUT does)."""


class ActionBatch(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})

    items: list[ActionBatchItem] = Field(max_length=MAX_BATCH, description="Up to 10,000 items.")


class ReceivedActionBatch(ReceivedBatch[ActionBatchItem]):
    batch_model = ActionBatch
    item_model = ActionBatchItem


# Documented as an ActionBatch; the route gets the valid items and an error for each bad one.
ActionBatchBody = Annotated[
    ReceivedActionBatch,
    Body(),
    PlainValidator(ReceivedActionBatch.validate),
    WithJsonSchema({"$ref": "#/components/schemas/ActionBatch"}),
]
