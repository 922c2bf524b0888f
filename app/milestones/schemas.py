"""Milestone inputs and outputs: the stored dates and status, and what they say as of the
database's current date (slippage in days, whether the milestone makes its action late)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Query
from pydantic import ConfigDict, Field, ValidationInfo, model_validator
from pydantic.config import JsonDict

from app.common.fields import IsoDate, Text
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import MilestoneKind, MilestoneStatus

TODAY = "today"
"""The validation context key of `MilestoneRead`: the database's `current_date`."""

SLIPPAGE_RULE = (
    "`slippage_days` is derived, in days: `met_on − due_on` for a met milestone (negative when "
    "met early), `today − due_on` for a scheduled milestone past its due date, 0 for a "
    "scheduled milestone not yet due, null for a missed or cancelled one. `late` is true for a "
    "missed milestone and for a scheduled one past its due date. Today is the database's "
    "current date, at read time: these two fields move with the date without a new version "
    "(the ETag names the stored version, which is what If-Match compares), and the change feed "
    "and the history compute them the same way, as of the day they are read."
)
LATE_ACTION_RULE = (
    "An action is late when one of its milestones is `missed`, or `scheduled` with a due date "
    "before today (the database's current date), whatever the action's own status."
)
STATUS_RULE = (
    "`met_on` is required when `status` is `met` and must be null otherwise (422 naming "
    "`/met_on`); a milestone is not met in the future."
)

_EXAMPLE: JsonDict = {
    "title": "Notification du marché de travaux",
    "kind": "tender",
    "due_on": "2024-06-30",
    "met_on": "2024-07-15",
    "status": "met",
}

Kind = Annotated[
    MilestoneKind,
    Field(
        description="`study`, `authorisation`, `tender`, `works_start`, `delivery`, `payment` "
        "or `other`."
    ),
]
Status = Annotated[
    MilestoneStatus,
    Field(description="`scheduled` (still ahead, or overdue), `met`, `missed` or `cancelled`."),
]


class MilestoneCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    title: Text
    kind: Kind = MilestoneKind.other
    due_on: IsoDate = Field(description="When the milestone is due.")
    met_on: IsoDate | None = Field(
        default=None, description="When it was met: only, and always, for status `met`."
    )
    status: Status = MilestoneStatus.scheduled


class MilestoneUpdate(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "met", "met_on": "2024-07-15"}]}
    )

    title: Text = Field(default=OMITTED)
    kind: Kind = Field(default=OMITTED)
    due_on: IsoDate = Field(default=OMITTED)
    met_on: IsoDate | None = Field(
        default=OMITTED, description="Send null to clear it when the status leaves `met`."
    )
    status: Status = Field(default=OMITTED)


STORED = ("id", "created_at", "updated_at", "etag", "action_id", "title", "kind", "due_on")


def slippage_days(status: str, due_on: date, met_on: date | None, today: date) -> int | None:
    """See SLIPPAGE_RULE."""
    if status == MilestoneStatus.met and met_on is not None:
        return (met_on - due_on).days
    if status == MilestoneStatus.scheduled:
        return max((today - due_on).days, 0)
    return None


def is_late(status: str, due_on: date, today: date) -> bool:
    """See SLIPPAGE_RULE; the SQL of the same rule is app.milestones.repository.late."""
    return status == MilestoneStatus.missed or (
        status == MilestoneStatus.scheduled and due_on < today
    )


class MilestoneRead(ResourceRead):
    model_config = read_example(
        _EXAMPLE,
        action_id="9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
        slippage_days=15,
        late=False,
    )

    action_id: uuid.UUID
    title: str
    kind: MilestoneKind
    due_on: date
    met_on: date | None
    status: MilestoneStatus
    slippage_days: int | None = Field(description=SLIPPAGE_RULE)
    late: bool = Field(description="Whether this milestone makes its action late (see above).")

    @model_validator(mode="before")
    @classmethod
    def _as_of_today(cls, data: Any, info: ValidationInfo) -> Any:
        """With the context's `today` (a stored row or its logged data): the derived fields as
        of that day. Without it, the data already carries them (FastAPI's second validation
        of a response)."""
        today = (info.context or {}).get(TODAY)
        if today is None:
            return data
        values: dict[str, Any] = (
            dict(data)
            if isinstance(data, Mapping)
            else {name: getattr(data, name) for name in (*STORED, "met_on", "status")}
        )
        status, due_on, met_on = values["status"], values["due_on"], values.get("met_on")
        if isinstance(due_on, str):  # from the change log's JSON
            due_on = date.fromisoformat(due_on)
        if isinstance(met_on, str):
            met_on = date.fromisoformat(met_on)
        values["slippage_days"] = slippage_days(status, due_on, met_on, today)
        values["late"] = is_late(status, due_on, today)
        return values

    @classmethod
    def at(cls, row: Any, today: date) -> MilestoneRead:
        """A stored milestone as GET shows it on `today`."""
        return cls.model_validate(row, context={TODAY: today})


@dataclass
class MilestoneFilters:
    status: Annotated[
        list[MilestoneStatus] | None, Query(description="Only with these statuses.")
    ] = None
    kind: Annotated[list[MilestoneKind] | None, Query(description="Only of these kinds.")] = None
