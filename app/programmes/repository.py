"""Programme rows, the SQL of the list's filters, and the periods the other resources use."""

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select

from app.common.repository import Condition, Repository, conditions, when
from app.models import Action, Chantier, ChantierTarget, Commitment, Programme
from app.programmes.schemas import ProgrammeFilters


class ProgrammeRepository(Repository[Programme]):
    model = Programme

    def where(self, filters: ProgrammeFilters) -> list[Condition]:
        return conditions(
            when(filters.code, Programme.code.in_),
            when(filters.status, lambda s: Programme.status.in_([v.value for v in s])),
        )

    async def sole_id(self) -> uuid.UUID | None:
        """The id of the only programme, or None when there are none or several."""
        ids = list((await self.session.scalars(select(Programme.id).limit(2))).all())
        return ids[0] if len(ids) == 1 else None

    async def periods(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, range]:
        """The period of each of these programmes that exists."""
        stmt = select(Programme.id, Programme.start_year, Programme.end_year).where(
            Programme.id.in_(set(ids))
        )
        rows = (await self.session.execute(stmt)).all()
        return {id: range(start, end + 1) for id, start, end in rows}

    async def action_periods(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, range]:
        """The period of the programme of each of these actions that exists: one statement."""
        stmt = (
            select(Action.id, Programme.start_year, Programme.end_year)
            .join(Programme, Programme.id == Action.programme_id)
            .where(Action.id.in_(set(ids)))
        )
        rows = (await self.session.execute(stmt)).all()
        return {id: range(start, end + 1) for id, start, end in rows}

    async def chantier_period(self, chantier_id: uuid.UUID) -> range | None:
        """The period of the chantier's programme; None when there is no such chantier."""
        stmt = (
            select(Programme.start_year, Programme.end_year)
            .join(Chantier, Chantier.programme_id == Programme.id)
            .where(Chantier.id == chantier_id)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else range(row[0], row[1] + 1)

    async def count_action_outside(self, action_id: uuid.UUID, period: range) -> int:
        """How many of the action's commitments have a year outside `period`."""
        stmt = select(func.count()).where(
            Commitment.action_id == action_id,
            ~Commitment.year.between(period.start, period.stop - 1),
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def count_outside(self, id: uuid.UUID, start: int, end: int) -> tuple[int, int]:
        """How many of the programme's commitments and chantier targets have a year outside
        start..end."""
        outside = ~Commitment.year.between(start, end)
        commitments = select(func.count()).where(Commitment.programme_id == id, outside)
        targets = select(func.count()).where(
            ChantierTarget.programme_id == id, ~ChantierTarget.year.between(start, end)
        )
        row = (
            await self.session.execute(
                select(commitments.scalar_subquery(), targets.scalar_subquery())
            )
        ).one()
        return int(row[0]), int(row[1])
