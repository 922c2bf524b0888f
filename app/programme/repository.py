"""Programme-wide statements: the demo data's bulk clean-up."""

from sqlalchemy import delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Action, Commitment


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_synthetic_actions(self) -> int:
        stmt = select(func.count()).select_from(Action).where(Action.synthetic.is_(true()))
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete_synthetic(self) -> None:
        await self.session.execute(delete(Commitment).where(Commitment.synthetic.is_(true())))
        await self.session.execute(delete(Action).where(Action.synthetic.is_(true())))
