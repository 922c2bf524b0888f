"""The change feed and history outputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class ResourceName(StrEnum):
    priorities = "priorities"
    chantiers = "chantiers"
    actions = "actions"
    partners = "partners"
    commitments = "commitments"


class ChangeRead(BaseModel):
    cursor: str = Field(description="Resume after this change by sending it back as `cursor`.")
    op: Literal["create", "update", "delete"]
    resource: ResourceName
    resource_id: uuid.UUID
    version: int = Field(
        description="The resource's version after the change (before, for a delete)."
    )
    at: datetime = Field(description="When the writing transaction started.")
    data: dict[str, Any] | None = Field(
        description="The resource as stored after the change; null for a delete. Money is a "
        "decimal string."
    )


class ChangePage(BaseModel):
    items: list[ChangeRead]
    next_cursor: str = Field(
        description="Always present: poll again with it, now or later, to get what follows."
    )
    has_more: bool = Field(description="True when more changes are ready now: fetch at once.")


class Actor(BaseModel):
    name: str = Field(description="The API key's name (or the command that wrote).")
    role: str = Field(description="admin, editor, partner or system.")


class FieldChange(BaseModel):
    before: Any
    after: Any


class VersionRead(BaseModel):
    version: int
    op: Literal["create", "update", "delete"]
    at: datetime
    actor: Actor | None = Field(description="Who wrote; null when written outside the API.")
    changed: dict[str, FieldChange] = Field(
        description="Each field that changed, with its value before and after."
    )


class HistoryPage(BaseModel):
    items: list[VersionRead]
    next_cursor: str | None
