"""Milestone rules: a milestone hangs from an action the caller may write, and its status and
`met_on` agree (met ⇔ a date met, never in the future). The database refuses a disagreement
too (milestones_met_on_iff_met_check)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from app.common.http import check_if_match
from app.common.pagination import ListParams
from app.common.service import ResourceService
from app.errors import ErrorItem, NotFound, ValidationFailed
from app.milestones.repository import MilestoneRepository
from app.milestones.schemas import MilestoneCreate, MilestoneFilters
from app.models import Action, Milestone
from app.models.enums import MilestoneStatus


def met_on_errors(status: str, met_on: date | None, today: date) -> list[ErrorItem]:
    """The `/met_on` error of a status and a date met that disagree (none: they agree)."""
    if status == MilestoneStatus.met and met_on is None:
        detail = "is required when status is met"
    elif status != MilestoneStatus.met and met_on is not None:
        detail = f"must be null unless status is met (status is {status})"
    elif met_on is not None and met_on > today:
        detail = f"must not be after today ({today.isoformat()})"
    else:
        return []
    return [ErrorItem(pointer="/met_on", detail=detail)]


class MilestoneService(ResourceService[Milestone, MilestoneRepository]):
    """Every write is captured in the change log (app/models/sql/milestones.sql)."""

    repository = MilestoneRepository
    noun = "milestone"

    async def today(self) -> date:
        return await self.repo.today()

    def _reaches(self, action: Action) -> bool:
        principal = self.principal
        return principal is None or principal.reaches(action.programme_id)

    async def action(self, action_id: uuid.UUID, *, for_write: bool = False) -> Action:
        """The action, 404 when missing; for a write, an action of a programme outside the
        caller's scope answers like a missing one."""
        action = await self.repo.action(action_id)
        if action is None or (for_write and not self._reaches(action)):
            raise NotFound(f"No action has id {action_id}.")
        return action

    async def list_on(
        self, action_id: uuid.UUID, params: ListParams, filters: MilestoneFilters
    ) -> tuple[list[Milestone], str | None]:
        await self.action(action_id)
        return await self.repo.page(params, filters, self.repo.where(action_id, filters))

    async def create_on(self, action_id: uuid.UUID, data: MilestoneCreate) -> Milestone:
        await self.action(action_id, for_write=True)
        values = data.model_dump()
        await self.validate(values, None)
        return await self.repo.add(Milestone(action_id=action_id, **values))

    async def get_for_write(self, id: uuid.UUID, if_match: str | None) -> Milestone:
        """The milestone locked, its action's programme deciding who reaches it (before
        If-Match is compared, as for every resource)."""
        found = await self.repo.for_write(id)
        if found is None or not self._reaches(found[1]):
            raise self.missing(id)
        check_if_match(if_match, found[0].etag)
        return found[0]

    async def validate(self, values: Mapping[str, Any], current: Milestone | None) -> None:
        status = values.get("status", current.status if current is not None else None)
        met_on = values["met_on"] if "met_on" in values else getattr(current, "met_on", None)
        errors = met_on_errors(str(status), met_on, await self.today())
        if errors:
            raise ValidationFailed("The milestone is invalid.", errors=errors)
