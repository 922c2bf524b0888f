"""Programme rules: an ordered period that keeps the years in use, and a territory the
referential knows."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

from app.common.pagination import ListParams
from app.common.service import ResourceService
from app.errors import ErrorItem, PeriodInUse, ValidationFailed
from app.models import Programme
from app.programmes.repository import ProgrammeRepository
from app.programmes.schemas import ProgrammeFilters
from app.territories.repository import TerritoryRepository

MISSING_PROGRAMME = "is required: there are several programmes"


class ProgrammeService(ResourceService[Programme, ProgrammeRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers. A programme still owning priorities cannot be deleted (the database's
    foreign key: 409 STILL_REFERENCED)."""

    repository = ProgrammeRepository
    noun = "programme"

    async def list(
        self, params: ListParams, filters: ProgrammeFilters
    ) -> tuple[list[Programme], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    def programme_of(self, obj: Programme) -> uuid.UUID:
        """A scoped key updates its own programmes only (and creates or deletes none: the
        routes refuse it)."""
        return obj.id

    async def validate(self, values: Mapping[str, Any], current: Programme | None) -> None:
        """The period is ordered (as PATCH leaves it), and a commune's INSEE code names a known
        commune (a 9-digit SIREN is taken as the collectivity's)."""
        errors: list[ErrorItem] = []
        start = values.get("start_year", current.start_year if current else None)
        end = values.get("end_year", current.end_year if current else None)
        if start is not None and end is not None and start > end:
            pointer = "/end_year" if "end_year" in values else "/start_year"
            errors.append(ErrorItem(pointer=pointer, detail="the period ends before it starts"))
        code = values.get("territory_code")
        if code is not None and len(code) != 9:
            territories = TerritoryRepository(self.repo.session)
            if await territories.first_with_code(code) is None:
                errors.append(
                    ErrorItem(pointer="/territory_code", detail="is no known commune's INSEE code")
                )
        if errors:
            raise ValidationFailed("The programme is invalid.", errors=errors)
        if current is not None and start is not None and end is not None:
            await self._check_narrowing(current, start, end)

    async def _check_narrowing(self, current: Programme, start: int, end: int) -> None:
        """409 naming how many commitments and targets lie outside a narrowed period (the
        database refuses it too: programme_years is referenced by their foreign keys)."""
        if start <= current.start_year and end >= current.end_year:
            return
        commitments, targets = await self.repo.count_outside(current.id, start, end)
        if not commitments and not targets:
            return
        pointers = [
            ErrorItem(pointer=f"/{field}", detail="leaves years in use outside the period")
            for field, narrowed in (
                ("start_year", start > current.start_year),
                ("end_year", end < current.end_year),
            )
            if narrowed
        ]
        raise PeriodInUse(
            f"{commitments} commitment(s) and {targets} chantier target(s) have a year outside "
            f"{start}–{end}; move or delete them first.",
            errors=pointers,
        )


async def programme_for(
    repo: ProgrammeRepository,
    given: uuid.UUID | None,
    within: Collection[uuid.UUID] | None = None,
) -> uuid.UUID:
    """The programme a new priority or chantier belongs to: the one given (which must exist,
    and for a scoped key be one of `within`), otherwise the only one there is; a 422 naming
    /programme_id when that is ambiguous."""
    if given is not None:
        if not await repo.existing(Programme, [given], within=within):
            raise ValidationFailed(
                "The programme is unknown.",
                errors=[ErrorItem(pointer="/programme_id", detail="no such programme")],
            )
        return given
    sole = await repo.sole_id()
    if sole is None or (within is not None and sole not in within):
        raise ValidationFailed(
            "Say which programme: there is not exactly one.",
            errors=[ErrorItem(pointer="/programme_id", detail=MISSING_PROGRAMME)],
        )
    return sole
