"""API key inputs and outputs: the secret appears once, in the answer to its creation."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.common.fields import Text
from app.common.schemas import Input
from app.models.enums import Role

SCOPE = (
    "The programmes the key writes inside (ids), for an editor or partner key; another "
    "programme's resources answer it like missing ones. Left out (or null): every programme. "
    "An admin key is never scoped."
)


class ApiKeyCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "BDT nightly sync", "role": "partner", "partner_id": "1b2c3d4e-…"},
                {
                    "name": "CRTE office",
                    "role": "editor",
                    "programme_ids": ["5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"],
                },
            ]
        }
    )

    name: Text
    role: Role
    partner_id: uuid.UUID | None = Field(
        default=None, description="Required for the partner role, and only for it."
    )
    programme_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=100, description=SCOPE
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None
    programme_ids: list[uuid.UUID] | None = Field(
        description="The programmes the key is scoped to, in id order; null: every programme."
    )
    prefix: str = Field(description="The public part of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key, shown this once; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
