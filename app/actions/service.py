"""Action rules: its chantier and lead partner exist, its communes are current communes of the
territorial referential; dates ordered and progress in range are
checked by the input models and by the database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from app.actions.repository import ActionRepository
from app.actions.schemas import ActionFilters
from app.common.pagination import ListParams
from app.common.rules import field_reference_errors
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Action, Chantier, Partner
from app.programmes.repository import ProgrammeRepository
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

    def programme_of(self, obj: Action) -> uuid.UUID:
        return obj.programme_id

    async def validate(self, values: Mapping[str, Any], current: Action | None) -> None:
        # A scoped key moves or creates actions only onto chantiers of its programmes.
        errors: Sequence[ErrorItem] = await field_reference_errors(
            self.repo, values, _REFERENCES, self.within
        )
        moved_to = values.get("chantier_id")
        if not errors and current is not None and moved_to not in (None, current.chantier_id):
            errors = await self._period_errors(current, moved_to)
        errors = [*errors, *await self._commune_errors(values.get("communes") or [])]
        if errors:
            raise ValidationFailed("The action is invalid.", errors=errors)

    async def _period_errors(self, action: Action, chantier_id: Any) -> Sequence[ErrorItem]:
        """Its commitments follow it to the chantier's programme, whose period must hold their
        years (the database refuses them too: commitments' (programme_id, year) foreign key)."""
        programmes = ProgrammeRepository(self.repo.session)
        period = await programmes.chantier_period(chantier_id)
        if period is None:
            return []
        outside = await programmes.count_action_outside(action.id, period)
        if not outside:
            return []
        detail = (
            f"is of a programme whose period {period.start}–{period.stop - 1} leaves out "
            f"{outside} of the action's commitments"
        )
        return [ErrorItem(pointer="/chantier_id", detail=detail)]

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
