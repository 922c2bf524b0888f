"""Action rules: its chantier and lead partner exist, its communes are current communes of the
territorial referential; dates ordered and progress in range are
checked by the input models and by the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.actions.repository import ActionRepository
from app.actions.schemas import ActionFilters
from app.common.pagination import ListParams
from app.common.rules import field_reference_errors
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Action, Chantier, Partner
from app.territories.repository import TerritoryRepository

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

    async def validate(self, values: Mapping[str, Any], current: Action | None) -> None:
        errors = await field_reference_errors(self.repo, values, _REFERENCES)
        errors += await self._commune_errors(values.get("communes") or [])
        if errors:
            raise ValidationFailed("The action is invalid.", errors=errors)

    async def _commune_errors(self, communes: Sequence[str]) -> Sequence[ErrorItem]:
        """An error naming each commune the referential does not hold as current: a code that
        never existed (13999) or a commune merged away since (kept for the actions that were
        already there, not for new writes)."""
        if not communes:
            return []
        known = await TerritoryRepository(self.repo.session).current_communes(communes)
        return [
            ErrorItem(pointer=f"/communes/{n}", detail="is no current commune's INSEE code")
            for n, code in enumerate(communes)
            if code not in known
        ]
