"""Chantier rules: the priorities served must exist, targets fall inside the programme period."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select

from app.chantiers.repository import ChantierRepository
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Chantier, ChantierPriority, ChantierTarget


class ChantierService(ResourceService[Chantier]):
    repository = ChantierRepository
    noun = "chantier"

    def where(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        rest = {k: v for k, v in filters.items() if k != "priority_id"}
        where = super().where(rest)
        if filters.get("priority_id"):
            served = select(ChantierPriority.chantier_id).where(
                ChantierPriority.priority_id.in_(filters["priority_id"])
            )
            where.append(Chantier.id.in_(served))
        return where

    async def _check(
        self, priority_ids: Sequence[uuid.UUID] | None, targets: Sequence[Any] | None
    ) -> None:
        errors: list[ErrorItem] = []
        if priority_ids is not None:
            assert isinstance(self.repo, ChantierRepository)
            known = await self.repo.existing_priorities(priority_ids)
            seen: set[uuid.UUID] = set()
            for i, pid in enumerate(priority_ids):
                if pid not in known:
                    errors.append(
                        ErrorItem(pointer=f"/priority_ids/{i}", detail="no such priority")
                    )
                elif pid in seen:
                    errors.append(ErrorItem(pointer=f"/priority_ids/{i}", detail="appears twice"))
                seen.add(pid)
        if targets is not None:
            period = self.settings.programme.years
            years: set[int] = set()
            for i, target in enumerate(targets):
                if target["year"] not in period:
                    detail = f"is outside the programme period {period.start}–{period.stop - 1}"
                    errors.append(ErrorItem(pointer=f"/targets/{i}/year", detail=detail))
                elif target["year"] in years:
                    errors.append(ErrorItem(pointer=f"/targets/{i}/year", detail="appears twice"))
                years.add(target["year"])
        if errors:
            raise ValidationFailed(
                "The chantier's priorities or targets are invalid.", errors=errors
            )

    async def build(self, data: dict[str, Any]) -> Chantier:
        priority_ids, targets = data.pop("priority_ids"), data.pop("targets")
        await self._check(priority_ids, targets)
        return Chantier(
            **data,
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
        await self._check(priority_ids, targets)
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
