"""Chantier rows, loaded with their priority links and targets."""

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.common.repository import Repository
from app.models import Chantier, Priority


class ChantierRepository(Repository[Chantier]):
    model = Chantier
    load_options = (selectinload(Chantier.priority_links), selectinload(Chantier.target_rows))

    async def existing_priorities(self, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        if not ids:
            return set()
        rows = await self.session.scalars(select(Priority.id).where(Priority.id.in_(ids)))
        return set(rows.all())
