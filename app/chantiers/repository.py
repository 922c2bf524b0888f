"""Chantier rows, loaded with their priority links and targets, and the SQL of the filters."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.chantiers.schemas import ChantierFilters
from app.common.repository import Condition, Repository, conditions, when
from app.models import Chantier, ChantierPriority, Priority


class ChantierRepository(Repository[Chantier]):
    model = Chantier
    load_options = (selectinload(Chantier.priority_links), selectinload(Chantier.target_rows))

    def where(self, filters: ChantierFilters) -> list[Condition]:
        return conditions(
            when(filters.programme_id, Chantier.programme_id.in_),
            when(filters.code, Chantier.code.in_),
            when(filters.number, Chantier.number.in_),
            when(
                filters.priority_id,
                lambda ids: Chantier.id.in_(
                    select(ChantierPriority.chantier_id).where(
                        ChantierPriority.priority_id.in_(ids)
                    )
                ),
            ),
        )

    async def programmes_of_priorities(
        self, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The programme of each of these priorities that exists."""
        stmt = select(Priority.id, Priority.programme_id).where(Priority.id.in_(list(ids)))
        return {id: programme_id for id, programme_id in (await self.session.execute(stmt)).all()}
