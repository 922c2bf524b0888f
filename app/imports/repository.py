"""The lookups an import makes once per file: the programme's chantiers, the partners by code,
and the imported actions' ids by code."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from app.common.repository import Repository
from app.models import Action, Chantier, Partner, Programme


class ImportRepository(Repository[Action]):
    model = Action

    async def programmes(self) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(select(Programme.code, Programme.id))
        return {code: id for code, id in rows.all()}

    async def chantiers(self, programme_id: uuid.UUID) -> dict[str, uuid.UUID]:
        """The programme's chantiers, by number and by code (both name one)."""
        rows = await self.session.execute(
            select(Chantier.number, Chantier.code, Chantier.id).where(
                Chantier.programme_id == programme_id
            )
        )
        found: dict[str, uuid.UUID] = {}
        for number, code, id in rows.all():
            found[str(number)] = id
            found[code] = id
        return found

    async def partners(self) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(select(Partner.code, Partner.id))
        return {code: id for code, id in rows.all()}

    async def action_ids(self, codes: Collection[str]) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(
            select(Action.code, Action.id).where(
                Action.code == any_(bindparam("codes", list(codes), type_=ARRAY(Text())))
            )
        )
        return {code: id for code, id in rows.all()}
