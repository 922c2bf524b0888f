"""Base input and output models: inputs refuse unknown fields, outputs carry id, times and etag."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

OMITTED: Any = None
"""Default of PATCH fields: omitted means unchanged; an explicit null is refused wherever the
field's type does not admit null (typed Any so that type checkers accept it as any default)."""


MAX_UNKNOWN_FIELDS = 20
"""An input object with more fields than its model declares plus this is refused in one error,
not with one error per unknown field (700,000 of them made a 54 MB answer)."""


class Input(BaseModel):
    """A request body: unknown and read-only fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _not_too_many_fields(cls, data: Any) -> Any:
        # Most bodies are well under the bound: their length alone tells, without looking up
        # the model's fields (pydantic's `model_fields` costs ~20 µs a call, 0.2 s a batch).
        if not isinstance(data, dict) or len(data) <= MAX_UNKNOWN_FIELDS:
            return data
        known = len(cls.__pydantic_fields__)
        if len(data) > known + MAX_UNKNOWN_FIELDS:
            raise PydanticCustomError(
                "too_many_fields",
                "has {count} fields where {known} are known: send only the documented ones",
                {"count": len(data), "known": known},
            )
        return data


def read_example(fields: JsonDict, **extra: Any) -> ConfigDict:
    """The config of an output model whose example is its input example as stored."""
    stored: JsonDict = {
        "id": "3f2b8c1e-6a4d-4e8f-9b7a-1c2d3e4f5a6b",
        "created_at": "2024-03-15T09:30:00Z",
        "updated_at": "2024-03-15T09:30:00Z",
        "etag": '"3f2b8c1e6a4d-1"',
    }
    return ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [stored | fields | extra]}
    )


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Opaque identifier (a UUID).")
    created_at: datetime
    updated_at: datetime
    etag: str = Field(description="The strong ETag of this version; send it back in If-Match.")


class UpsertResult(BaseModel):
    created: int = Field(description="Items that named no stored row.")
    updated: int = Field(description="Items that replaced a stored row (a new version).")
    unchanged: int = Field(description="Items identical to the stored row: no new version.")
