"""Schedule rules: lines that sum to the commitment's amount, none before its year, one per year;
a new version for each change, written as the commitment's writer may write it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.common.fields import format_money
from app.common.http import check_if_match
from app.common.principal import Principal
from app.common.rules import Pointer, reaches_partner
from app.errors import ErrorItem, NotFound, ValidationFailed
from app.models import Commitment, ScheduleVersion
from app.models.base import etag_of
from app.schedules.repository import Lines, ScheduleRepository
from app.schedules.schemas import ScheduleInput, ScheduleLineRead, ScheduleRead, ScheduleVersionRead

SEVERAL_LINES = (
    "its schedule has {count} lines, which would no longer sum to the amount: send the new "
    "schedule with it (`schedule`: lines that sum to the new amount)"
)
PAST_FIRST_LINE = (
    "is after the first year of its schedule ({first}): send the new schedule with it "
    "(`schedule`: no line before the new year)"
)


def _lines(schedule: ScheduleInput | Mapping[str, Any]) -> list[tuple[int, Decimal]]:
    if isinstance(schedule, ScheduleInput):
        return [(line.year, line.amount) for line in schedule.lines]
    return [(line["year"], line["amount"]) for line in schedule["lines"]]


def _reason(schedule: ScheduleInput | Mapping[str, Any]) -> str | None:
    if isinstance(schedule, ScheduleInput):
        return schedule.reason
    reason: str | None = schedule.get("reason")
    return reason


def line_errors(lines: Lines, amount: Decimal, year: int, at: str = "") -> list[ErrorItem]:
    """Every bad line of a schedule for a commitment of this amount and year (`at`: where the
    schedule is in the body, "" or "/schedule"); the database refuses the same at commit."""
    errors = []
    first: dict[int, int] = {}
    for n, (line_year, _) in enumerate(lines):
        seen = first.setdefault(line_year, n)
        if seen != n:
            detail = f"appears twice (also {at}/lines/{seen}/year)"
            errors.append(ErrorItem(pointer=f"{at}/lines/{n}/year", detail=detail))
        elif line_year < year:
            detail = f"is before the commitment's year ({year})"
            errors.append(ErrorItem(pointer=f"{at}/lines/{n}/year", detail=detail))
    total = sum((line_amount for _, line_amount in lines), Decimal(0))
    if total != amount:
        detail = (
            f"sum to {format_money(total)}, not to the commitment's amount {format_money(amount)}"
        )
        errors.append(ErrorItem(pointer=f"{at}/lines", detail=detail))
    return errors


def _read(version: ScheduleVersion) -> ScheduleVersionRead:
    return ScheduleVersionRead.model_validate(version)


class ScheduleService:
    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.repo = ScheduleRepository(session)
        self.principal = principal

    @staticmethod
    def missing(id: uuid.UUID) -> NotFound:
        return NotFound(f"No commitment has id {id}.")

    async def _reachable(self, commitment_id: uuid.UUID, *, for_update: bool) -> Commitment:
        """The commitment, or 404; for a write, locked, and another partner's (or another
        programme's, for a scoped key) answers like a missing one."""
        commitment = await self.repo.commitment(commitment_id, for_update=for_update)
        if commitment is None:
            raise self.missing(commitment_id)
        principal = self.principal
        if for_update and (
            not reaches_partner(principal, commitment.partner_id)
            or (principal is not None and not principal.reaches(commitment.programme_id))
        ):
            raise self.missing(commitment_id)
        return commitment

    async def _current(self, commitment_id: uuid.UUID) -> ScheduleRead:
        version = await self.repo.current(commitment_id)
        assert version is not None  # every commitment has version 1 (schedules.sql)
        lines = await self.repo.lines(commitment_id)
        return ScheduleRead(
            commitment_id=commitment_id,
            number=version.number,
            kind=version.kind,  # type: ignore[arg-type]
            reason=version.reason,
            lines=[ScheduleLineRead(year=year, amount=amount) for year, amount in lines],
            created_at=version.created_at,
            created_by=version.created_by,
            etag=etag_of(version.id, version.number),
        )

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, commitment_id: uuid.UUID) -> ScheduleRead:
        await self._reachable(commitment_id, for_update=False)
        return await self._current(commitment_id)

    async def versions(self, commitment_id: uuid.UUID) -> list[ScheduleVersionRead]:
        await self._reachable(commitment_id, for_update=False)
        return [_read(version) for version in await self.repo.versions(commitment_id)]

    # -- writes --------------------------------------------------------------------------------

    async def put(
        self, commitment_id: uuid.UUID, data: ScheduleInput, if_match: str | None
    ) -> ScheduleRead:
        """A new `revised` version (none when the lines are those of the current one)."""
        commitment = await self._reachable(commitment_id, for_update=True)
        current = await self._current(commitment_id)
        check_if_match(if_match, current.etag)
        lines = _lines(data)
        errors = line_errors(lines, commitment.amount, commitment.year)
        if errors:
            raise ValidationFailed("The schedule is invalid; nothing was written.", errors=errors)
        if sorted(lines) == [(line.year, line.amount) for line in current.lines]:
            return current
        await self.revise(commitment_id, data)
        return await self._current(commitment_id)

    async def initial(self, commitment_id: uuid.UUID, schedule: ScheduleInput) -> None:
        """A commitment created with its schedule: version 1 is the one sent."""
        lines = _lines(schedule)
        await self.repo.replace_lines(commitment_id, lines)
        await self.repo.rewrite_initial(commitment_id, lines, schedule.reason)

    async def revise(
        self, commitment_id: uuid.UUID, schedule: ScheduleInput | Mapping[str, Any]
    ) -> None:
        """Write the lines and a `revised` version after the current one (the commitment is
        locked by the caller: versions are numbered one writer at a time); the current lines
        sent again write nothing."""
        lines = _lines(schedule)
        if sorted(lines) == await self.repo.lines(commitment_id):
            return
        current = await self.repo.current(commitment_id)
        number = current.number + 1 if current is not None else 1
        await self.repo.replace_lines(commitment_id, lines)
        await self.repo.add_version(commitment_id, number, lines, _reason(schedule))

    # -- the commitment's own writes -------------------------------------------------------------

    async def commitment_errors(
        self, values: Mapping[str, Any], current: Commitment | None
    ) -> list[ErrorItem]:
        """For a commitment's create or PATCH: its `schedule` checked against the amount and
        year it will have; without one, an amount or year change its stored schedule cannot
        follow (a single line follows, several lines do not)."""
        amount = values.get("amount", current.amount if current else None)
        year = values.get("year", current.year if current else None)
        if amount is None or year is None:
            return []  # reported by the model's own validation
        if values.get("schedule") is not None:
            return line_errors(_lines(values["schedule"]), amount, year, "/schedule")
        if current is None or (amount == current.amount and year == current.year):
            return []
        lines = await self.repo.lines(current.id)
        if len(lines) < 2:
            return []
        errors = []
        if amount != current.amount:
            detail = SEVERAL_LINES.format(count=len(lines))
            errors.append(ErrorItem(pointer="/amount", detail=detail))
        if year > lines[0][0]:
            errors.append(
                ErrorItem(pointer="/year", detail=PAST_FIRST_LINE.format(first=lines[0][0]))
            )
        return errors

    async def batch_errors(
        self, partner_id: uuid.UUID, refs: Sequence[str], at: Pointer
    ) -> list[ErrorItem]:
        """After a partner's upsert: an error for each item whose stored schedule (of several
        lines) no longer fits its new amount or year (`at(n)`: where the n-th item is)."""
        broken = {b.external_ref: b for b in await self.repo.broken(partner_id, refs)}
        errors = []
        for n, ref in enumerate(refs):
            found = broken.get(ref)
            if found is None:
                continue
            if found.sum_differs:
                detail = (
                    "would no longer be the sum of its schedule's lines: change both at once "
                    "(PATCH /v1/commitments/{id} with `amount` and `schedule`)"
                )
                errors.append(ErrorItem(pointer=f"{at(n)}/amount", detail=detail))
            if found.line_before_year:
                detail = (
                    "is after the first year of its schedule: change both at once "
                    "(PATCH /v1/commitments/{id} with `year` and `schedule`)"
                )
                errors.append(ErrorItem(pointer=f"{at(n)}/year", detail=detail))
        return errors
