"""Chantier rules: the priorities served must exist, targets fall inside its programme's
period."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func

from app.chantiers.repository import ChantierRepository
from app.chantiers.schemas import ChantierFilters
from app.common.pagination import ListParams
from app.common.rules import period_errors, reference_errors, repeated_errors
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Chantier, ChantierPriority, ChantierTarget, Priority
from app.programmes.repository import ProgrammeRepository
from app.programmes.service import programme_for


def _target_year(n: int) -> str:
    return f"/targets/{n}/year"


class ChantierService(ResourceService[Chantier, ChantierRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers; the roll-up follows chantiers by id, so no write of theirs moves it."""

    repository = ChantierRepository
    noun = "chantier"

    async def list(
        self, params: ListParams, filters: ChantierFilters
    ) -> tuple[list[Chantier], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    async def validate(self, values: Mapping[str, Any], current: Chantier | None) -> None:
        """The priorities served exist, once each, in the chantier's programme; targets fall in
        that programme's period, one per year."""
        errors: list[ErrorItem] = []
        programmes = ProgrammeRepository(self.repo.session)
        programme_id = current.programme_id if current else values.get("programme_id")
        if programme_id is None:
            programme_id = await programmes.sole_id()  # unknown: build() answers /programme_id
        priority_ids: Sequence[uuid.UUID] = values.get("priority_ids") or ()
        errors += await reference_errors(
            self.repo,
            Priority,
            "priority",
            priority_ids,
            lambda n: f"/priority_ids/{n}",
            self.within,
        )
        errors += repeated_errors(priority_ids, lambda n: f"/priority_ids/{n}")
        errors += await self._foreign_priorities(programme_id, priority_ids)
        years = [target["year"] for target in values.get("targets") or ()]
        if years and programme_id is not None:
            periods = await programmes.periods([programme_id])
            errors += period_errors(periods, [programme_id] * len(years), years, _target_year)
        errors += repeated_errors(years, _target_year)
        if errors:
            raise ValidationFailed(
                "The chantier's priorities or targets are invalid.", errors=errors
            )

    async def _foreign_priorities(
        self, programme_id: uuid.UUID | None, ids: Sequence[uuid.UUID]
    ) -> Sequence[ErrorItem]:
        """An error for each priority of another programme than the chantier's (the database
        refuses them too: chantier_priorities' composite foreign key)."""
        if not ids:
            return []
        owners = await self.repo.programmes_of_priorities(ids)
        within = self.within  # beyond it, a priority was reported as missing already
        return [
            ErrorItem(pointer=f"/priority_ids/{n}", detail="is a priority of another programme")
            for n, id in enumerate(ids)
            if id in owners
            and owners[id] != programme_id
            and (within is None or owners[id] in within)
        ]

    def programme_of(self, obj: Chantier) -> uuid.UUID:
        return obj.programme_id

    async def build(self, values: dict[str, Any]) -> Chantier:
        priority_ids, targets = values.pop("priority_ids"), values.pop("targets")
        given = values.pop("programme_id", None)
        repo = ProgrammeRepository(self.repo.session)
        return Chantier(
            **values,
            programme_id=await programme_for(repo, given, self.within),
            # In the order the relationships load in, so that 201 and GET answer alike.
            priority_links=[ChantierPriority(priority_id=p) for p in sorted(priority_ids)],
            target_rows=[
                ChantierTarget(year=t["year"], amount=t["amount"])
                for t in sorted(targets, key=lambda t: t["year"])
            ],
        )

    async def apply(self, obj: Chantier, changes: dict[str, Any]) -> None:
        priority_ids = changes.pop("priority_ids", None)
        targets = changes.pop("targets", None)
        await super().apply(obj, changes)
        if priority_ids is not None and set(priority_ids) != set(obj.priority_ids):
            keep = [link for link in obj.priority_links if link.priority_id in priority_ids]
            held = {link.priority_id for link in keep}
            added = [ChantierPriority(priority_id=p) for p in priority_ids if p not in held]
            obj.priority_links = sorted(keep + added, key=lambda link: link.priority_id)
            obj.updated_at = func.now()  # the representation changed: bump version and ETag
        if targets is not None:
            wanted: dict[int, Decimal] = {t["year"]: t["amount"] for t in targets}
            current = {t.year: t.amount for t in obj.target_rows}
            if wanted != current:
                by_year = {t.year: t for t in obj.target_rows}
                rows = []
                for year, amount in sorted(wanted.items()):
                    row = by_year.get(year) or ChantierTarget(year=year)
                    row.amount = amount
                    rows.append(row)
                obj.target_rows = rows
                obj.updated_at = func.now()
