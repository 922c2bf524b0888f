"""Who is calling: what an API key resolves to, known to every layer above the models."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from app.models.enums import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name, role, for a partner key its partner, and for a key
    scoped to programmes those programmes (None: every programme)."""

    key_id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None
    programme_ids: frozenset[uuid.UUID] | None = None

    def reaches(self, programme_id: uuid.UUID) -> bool:
        """May this key write inside that programme?"""
        return self.programme_ids is None or programme_id in self.programme_ids


PRINCIPAL = "principal"
"""The request-state key (`scope["state"]["principal"]`) under which authentication leaves the
caller's Principal, or None for an anonymous request."""


def programmes_within(principal: Principal | None) -> frozenset[uuid.UUID] | None:
    """The programmes the caller's writes are bound to; None when they are not bound."""
    return principal.programme_ids if principal is not None else None


def principal_of(scope: MutableMapping[str, Any]) -> Principal | None:
    """The caller, as the authentication middleware resolved it (None: anonymous)."""
    principal: Principal | None = scope.get("state", {}).get(PRINCIPAL)
    return principal
