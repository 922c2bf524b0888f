"""Action rules: its chantier and lead partner exist; dates ordered and progress in range are
checked by the input models and by the database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from app.actions.repository import ActionRepository
from app.actions.schemas import ActionFilters
from app.common.pagination import ListParams
from app.common.rules import field_reference_errors
from app.common.service import ResourceService
from app.errors import ValidationFailed
from app.models import Action, Chantier, Partner

_REFERENCES = {"chantier_id": (Chantier, "chantier"), "lead_partner_id": (Partner, "partner")}


class ActionService(ResourceService[Action, ActionRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), and
    moving an action to another chantier moves its roll-up (commitment_rollups): both by
    database triggers."""

    repository = ActionRepository
    noun = "action"

    async def list(
        self, params: ListParams, filters: ActionFilters
    ) -> tuple[list[Action], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    def programme_of(self, obj: Action) -> uuid.UUID:
        return obj.programme_id

    async def validate(self, values: Mapping[str, Any], current: Action | None) -> None:
        # A scoped key moves or creates actions only onto chantiers of its programmes.
        errors = await field_reference_errors(self.repo, values, _REFERENCES, self.within)
        if errors:
            raise ValidationFailed("The action is invalid.", errors=errors)
