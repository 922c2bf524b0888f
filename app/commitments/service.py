"""Commitment rules: year in its own programme's period, disbursed within amount, the action and the
partner exist, and a partner key reaches only its own partner's commitments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from app.commitments.repository import CommitmentRepository
from app.commitments.schemas import CommitmentFilters
from app.common.pagination import ListParams
from app.common.rules import (
    check_partner,
    field_reference_errors,
    period_errors,
    reaches_partner,
    single,
)
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Action, Commitment, Partner
from app.programmes.repository import ProgrammeRepository
from app.schedules.schemas import ScheduleInput
from app.schedules.service import ScheduleService

_REFERENCES = {"action_id": (Action, "action"), "partner_id": (Partner, "partner")}


class CommitmentService(ResourceService[Commitment, CommitmentRepository]):
    """Every write also moves the roll-up (commitment_rollups) and is captured in the change log
    (changes: /v1/changes and history), all three by database triggers."""

    repository = CommitmentRepository
    noun = "commitment"

    @property
    def schedules(self) -> ScheduleService:
        return ScheduleService(self.repo.session, self.principal)

    async def build(self, values: dict[str, Any]) -> Commitment:
        values.pop("schedule", None)  # written once the commitment exists (create)
        return await super().build(values)

    async def create(self, data: BaseModel) -> Commitment:
        commitment = await super().create(data)
        schedule = getattr(data, "schedule", None)
        if isinstance(schedule, ScheduleInput):
            await self.schedules.initial(commitment.id, schedule)
        return commitment

    async def apply(self, obj: Commitment, changes: dict[str, Any]) -> None:
        # The lines first: the commitment's own update then finds its one line already right
        # and adds no version of its own (app/models/sql/schedules.sql).
        schedule = changes.pop("schedule", None)
        if schedule is not None:
            await self.schedules.revise(obj.id, schedule)
        await super().apply(obj, changes)

    async def list_rows(
        self, columns: Sequence[str], params: ListParams, filters: CommitmentFilters
    ) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        """One page of the list, as rows of these columns (app.common.rows)."""
        return await self.repo.page_rows(columns, params, filters, self.repo.where(filters))

    def programme_of(self, obj: Commitment) -> uuid.UUID:
        return obj.programme_id

    def check_access(self, obj: Commitment) -> None:
        super().check_access(obj)
        # Another partner's commitment answers like a missing one: a partner key learns
        # nothing of other partners' ids, versions or ETags.
        if not reaches_partner(self.principal, obj.partner_id):
            raise self.missing(obj.id)

    def check_allowed(self, values: Mapping[str, Any]) -> None:
        if "partner_id" in values:
            check_partner(self.principal, values["partner_id"])

    async def validate(self, values: Mapping[str, Any], current: Commitment | None) -> None:
        errors: list[ErrorItem] = []
        action_id = values.get("action_id", current.action_id if current else None)
        year = values.get("year", current.year if current else None)
        if ("year" in values or "action_id" in values) and action_id and year:
            # The period of the action's own programme; moving to an action of another
            # programme names /action_id when the year was not sent.
            periods = await ProgrammeRepository(self.repo.session).action_periods([action_id])
            pointer = single("/year" if "year" in values else "/action_id")
            errors += period_errors(periods, [action_id], [year], pointer)
        amount = values.get("amount", current.amount if current else None)
        disbursed = values.get("disbursed_amount", current.disbursed_amount if current else None)
        if amount is not None and disbursed is not None and disbursed > amount:
            errors.append(ErrorItem(pointer="/disbursed_amount", detail="must not be above amount"))
        errors += await field_reference_errors(self.repo, values, _REFERENCES, self.within)
        errors += await self.schedules.commitment_errors(values, current)
        if errors:
            raise ValidationFailed("The commitment is invalid.", errors=errors)
