"""Who is calling: what an API key resolves to, known to every layer above the models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.models.enums import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name, role and, for a partner key, its partner."""

    key_id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None
