"""Schedule inputs and outputs: lines of {year, amount}, money as decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonValue

from app.common.fields import Money, PositiveMoney, Year
from app.common.schemas import Input
from app.models.enums import ScheduleKind

MAX_LINES = 100
"""A century of yearly lines: more is a mistake, not a schedule."""

Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Why the schedule is (re)written: kept with the version.",
        examples=["Travaux décalés d'un an (avenant n° 2)"],
    ),
]

_LINES_EXAMPLE: list[JsonValue] = [
    {"year": 2024, "amount": "250000.00"},
    {"year": 2025, "amount": "600000.00"},
    {"year": 2026, "amount": "400000.00"},
]


class ScheduleLineInput(Input):
    year: Year = Field(description="The year these credits are planned for (CP).")
    amount: PositiveMoney


class ScheduleInput(Input):
    """A whole schedule: its lines replace the current ones."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"lines": _LINES_EXAMPLE, "reason": "Travaux décalés d'un an"}]
        }
    )

    lines: list[ScheduleLineInput] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description=(
            "One line per year, none before the commitment's year, each amount above 0; the "
            "amounts sum to the commitment's amount exactly."
        ),
    )
    reason: Reason | None = None


class ScheduleLineRead(BaseModel):
    year: int
    amount: Money


class ScheduleVersionRead(BaseModel):
    """One version as written, with who wrote it and when."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "number": 2,
                    "kind": "revised",
                    "reason": "Travaux décalés d'un an",
                    "lines": _LINES_EXAMPLE,
                    "created_at": "2025-02-03T10:00:00Z",
                    "created_by": "editor: Marie",
                }
            ]
        },
    )

    number: int = Field(description="1 for the initial schedule, then 2, 3…")
    kind: ScheduleKind = Field(description="`initial` (as voted) for version 1, then `revised`.")
    reason: str | None
    lines: list[ScheduleLineRead] = Field(description="In year order.")
    created_at: datetime
    created_by: str | None = Field(
        description="The name of the key that wrote it (null: not the API)."
    )


class ScheduleRead(ScheduleVersionRead):
    """The current schedule: its latest version, and the lines the aggregates count."""

    commitment_id: uuid.UUID
    etag: str = Field(description="The strong ETag of this version; send it back in If-Match.")


class ScheduleVersions(BaseModel):
    items: list[ScheduleVersionRead] = Field(description="Every version, the first one first.")
