"""What the overview page reads beside the reporting figures: the programmes, and names."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CashflowRollup, Programme
from app.models.chantier import Chantier, ChantierTarget
from app.models.enums import CommitmentStatus
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

    async def chantiers(
        self, programme_id: uuid.UUID
    ) -> list[tuple[Chantier, Decimal | None, Decimal]]:
        """The programme's chantiers by number, each with its target over the whole period and
        what the schedules of its `committed` commitments plan (every year, past the period
        too), from the cash-flow roll-up."""
        target = (
            select(func.sum(ChantierTarget.amount))
            .where(ChantierTarget.chantier_id == Chantier.id)
            .scalar_subquery()
        )
        flows = CashflowRollup.__table__.c
        scheduled = (
            select(func.coalesce(func.sum(flows.scheduled_sum), Decimal(0)))
            .where(
                flows.chantier_id == Chantier.id,
                flows.status == CommitmentStatus.committed.value,
                flows.month == 0,  # a schedule is yearly: its lines are on month 0
            )
            .scalar_subquery()
        )
        query = (
            select(Chantier, target, scheduled)
            .where(Chantier.programme_id == programme_id)
            .order_by(Chantier.number)
        )
        return [
            (chantier, total, planned)
            for chantier, total, planned in (await self.session.execute(query)).all()
        ]
