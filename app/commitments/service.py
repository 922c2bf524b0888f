"""Commitment rules: year in the programme period, disbursed within amount, partner scoping."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select

from app.commitments.repository import CommitmentRepository
from app.common.service import ResourceService
from app.errors import ErrorItem, Forbidden, NotFound, ValidationFailed
from app.models import Action, Commitment
from app.models.enums import Role

_NOT_YOURS = "A partner key may only write its own partner's commitments."


class CommitmentService(ResourceService[Commitment]):
    repository = CommitmentRepository
    noun = "commitment"

    def where(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        simple = {k: v for k, v in filters.items() if k not in ("chantier_id", "synthetic")}
        where = super().where(simple)
        if filters.get("chantier_id"):
            actions = select(Action.id).where(Action.chantier_id.in_(filters["chantier_id"]))
            where.append(Commitment.action_id.in_(actions))
        if filters.get("synthetic") is not None:
            where.append(Commitment.synthetic.is_(filters["synthetic"]))
        return where

    @property
    def _own_partner(self) -> uuid.UUID | None:
        if self.principal is not None and self.principal.role is Role.partner:
            return self.principal.partner_id
        return None

    def authorize(self, obj: Commitment | None, data: Mapping[str, Any]) -> None:
        own = self._own_partner
        if own is None:
            return
        if obj is not None and obj.partner_id != own:
            raise Forbidden(_NOT_YOURS)
        if "partner_id" in data and data["partner_id"] != own:
            raise Forbidden(_NOT_YOURS)

    async def _lock(self, id: uuid.UUID, if_match: str | None) -> Commitment:
        try:
            return await super()._lock(id, if_match)
        except NotFound:
            # A partner learns nothing about other partners' ids: missing and foreign look alike.
            if self._own_partner is not None:
                raise Forbidden(_NOT_YOURS) from None
            raise

    def _check(self, year: int | None, amount: Decimal, disbursed: Decimal) -> None:
        errors = []
        period = self.settings.programme.years
        if year is not None and year not in period:
            detail = f"is outside the programme period {period.start}–{period.stop - 1}"
            errors.append(ErrorItem(pointer="/year", detail=detail))
        if disbursed > amount:
            errors.append(ErrorItem(pointer="/disbursed_amount", detail="must not be above amount"))
        if errors:
            raise ValidationFailed("The commitment is invalid.", errors=errors)

    async def build(self, data: dict[str, Any]) -> Commitment:
        self._check(data["year"], data["amount"], data["disbursed_amount"])
        return await super().build(data)

    async def apply(self, obj: Commitment, changes: dict[str, Any]) -> None:
        self._check(
            changes.get("year"),
            changes.get("amount", obj.amount),
            changes.get("disbursed_amount", obj.disbursed_amount),
        )
        await super().apply(obj, changes)
