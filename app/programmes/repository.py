"""Programme rows, and the SQL of the list's filters."""

import uuid

from sqlalchemy import select

from app.common.repository import Condition, Repository, conditions, when
from app.models import Programme
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
