"""What the overview page reads beside the reporting figures: the programmes, and names."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Programme
from app.models.chantier import Chantier, ChantierTarget
from app.models.territory import Territory


class OverviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def programmes(self) -> Sequence[Programme]:
        """Every programme but drafts, the oldest first."""
        query = (
            select(Programme)
            .where(Programme.status != "draft")
            .order_by(Programme.start_year, Programme.code)
        )
        return (await self.session.scalars(query)).all()

    async def programme(self, code: str) -> Programme | None:
        query = select(Programme).where(Programme.code == code, Programme.status != "draft")
        return (await self.session.scalars(query)).one_or_none()

    async def territory_names(
        self, kinds: Collection[str], codes: Collection[str]
    ) -> dict[str, str]:
        if not codes:
            return {}
        query = select(Territory.code, Territory.name).where(
            Territory.kind.in_(kinds), Territory.code.in_(codes)
        )
        return {code: name for code, name in (await self.session.execute(query)).all()}

    async def chantiers(self, programme_id: uuid.UUID) -> list[tuple[Chantier, Decimal | None]]:
        """The programme's chantiers by number, each with its target over the whole period."""
        target = (
            select(func.sum(ChantierTarget.amount))
            .where(ChantierTarget.chantier_id == Chantier.id)
            .scalar_subquery()
        )
        query = (
            select(Chantier, target)
            .where(Chantier.programme_id == programme_id)
            .order_by(Chantier.number)
        )
        return [(chantier, total) for chantier, total in (await self.session.execute(query)).all()]
