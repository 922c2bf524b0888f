"""API key inputs and outputs: the secret appears once, in the answer to its creation."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.common.fields import Text
from app.common.schemas import Input
from app.models.enums import Role


class ApiKeyCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "BDT nightly sync", "role": "partner", "partner_id": "1b2c3d4e-…"}
            ]
        }
    )

    name: Text
    role: Role
    partner_id: uuid.UUID | None = Field(
        default=None, description="Required for the partner role, and only for it."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None
    prefix: str = Field(description="The public part of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key, shown this once; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
