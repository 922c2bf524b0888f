"""Base input and output models: inputs refuse unknown fields, outputs carry id, times and etag."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

OMITTED: Any = None
"""Default of PATCH fields: omitted means unchanged; an explicit null is refused wherever the
field's type does not admit null (typed Any so that type checkers accept it as any default)."""


class Input(BaseModel):
    """A request body: unknown and read-only fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Opaque identifier (a UUID).")
    created_at: datetime
    updated_at: datetime
    etag: str = Field(description="The strong ETag of this version; send it back in If-Match.")
