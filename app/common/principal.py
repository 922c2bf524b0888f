"""Who is calling: what an API key resolves to, known to every layer above the models."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from app.models.enums import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name, role and, for a partner key, its partner."""

    key_id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None


PRINCIPAL = "principal"
"""The request-state key (`scope["state"]["principal"]`) under which authentication leaves the
caller's Principal, or None for an anonymous request."""


def principal_of(scope: MutableMapping[str, Any]) -> Principal | None:
    """The caller, as the authentication middleware resolved it (None: anonymous)."""
    principal: Principal | None = scope.get("state", {}).get(PRINCIPAL)
    return principal
