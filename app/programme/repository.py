"""Programme-wide statements: the budget years, and the demo data's bulk clean-up."""

from collections.abc import Iterable

from sqlalchemy import delete, exists, func, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Action, ChantierTarget, Commitment, ProgrammeYear


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_years(self, years: Iterable[int]) -> None:
        rows = [{"year": y} for y in years]
        await self.session.execute(insert(ProgrammeYear).values(rows).on_conflict_do_nothing())

    async def remove_unused_years_outside(self, first: int, last: int) -> list[int]:
        """Drop years outside [first, last] that nothing uses; return those still in use."""
        outside = ~ProgrammeYear.year.between(first, last)
        used = exists().where(Commitment.year == ProgrammeYear.year) | exists().where(
            ChantierTarget.year == ProgrammeYear.year
        )
        await self.session.execute(delete(ProgrammeYear).where(outside, ~used))
        kept = await self.session.scalars(select(ProgrammeYear.year).where(outside))
        return list(kept.all())

    async def count_synthetic_actions(self) -> int:
        stmt = select(func.count()).select_from(Action).where(Action.synthetic.is_(true()))
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete_synthetic(self) -> None:
        await self.session.execute(delete(Commitment).where(Commitment.synthetic.is_(true())))
        await self.session.execute(delete(Action).where(Action.synthetic.is_(true())))
