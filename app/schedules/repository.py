"""Schedule rows: the current lines of a commitment, its versions, and the batch check of the
partner sync."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from app.common.fields import format_money
from app.models import Commitment, ScheduleLine, ScheduleVersion
from app.models.enums import ScheduleKind

Lines = Sequence[tuple[int, Decimal]]
"""(year, amount) pairs."""


def as_json(lines: Lines) -> list[dict[str, Any]]:
    """The lines as a version stores them: in year order, amounts as decimal strings."""
    return [{"year": year, "amount": format_money(amount)} for year, amount in sorted(lines)]


# The actor the API signed the transaction with (app.db.sign_writes), as the change log reads it.
_ACTOR = func.nullif(func.current_setting("relance.actor_name", True), "")


@dataclass(frozen=True)
class Broken:
    """A commitment of a partner batch whose stored schedule no longer fits it."""

    external_ref: str
    sum_differs: bool
    line_before_year: bool


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def commitment(self, id: uuid.UUID, *, for_update: bool = False) -> Commitment | None:
        stmt = select(Commitment).where(Commitment.id == id)
        if for_update:
            stmt = stmt.with_for_update()
        result: Commitment | None = (await self.session.scalars(stmt)).one_or_none()
        return result

    async def lines(self, commitment_id: uuid.UUID) -> list[tuple[int, Decimal]]:
        stmt = (
            select(ScheduleLine.year, ScheduleLine.amount)
            .where(ScheduleLine.commitment_id == commitment_id)
            .order_by(ScheduleLine.year)
        )
        return [(row.year, row.amount) for row in await self.session.execute(stmt)]

    async def current(self, commitment_id: uuid.UUID) -> ScheduleVersion | None:
        stmt = (
            select(ScheduleVersion)
            .where(ScheduleVersion.commitment_id == commitment_id)
            .order_by(ScheduleVersion.number.desc())
            .limit(1)
        )
        result: ScheduleVersion | None = (await self.session.scalars(stmt)).one_or_none()
        return result

    async def versions(self, commitment_id: uuid.UUID) -> list[ScheduleVersion]:
        stmt = (
            select(ScheduleVersion)
            .where(ScheduleVersion.commitment_id == commitment_id)
            .order_by(ScheduleVersion.number)
        )
        return list((await self.session.scalars(stmt)).all())

    async def replace_lines(self, commitment_id: uuid.UUID, lines: Lines) -> None:
        """The commitment's current lines become these (checked at commit by the database)."""
        await self.session.execute(
            delete(ScheduleLine).where(ScheduleLine.commitment_id == commitment_id)
        )
        await self.session.execute(
            insert(ScheduleLine),
            [{"commitment_id": commitment_id, "year": y, "amount": a} for y, a in lines],
        )

    async def add_version(
        self, commitment_id: uuid.UUID, number: int, lines: Lines, reason: str | None
    ) -> ScheduleVersion:
        stmt = (
            insert(ScheduleVersion)
            .values(
                commitment_id=commitment_id,
                number=number,
                kind=ScheduleKind.initial if number == 1 else ScheduleKind.revised,
                reason=reason,
                lines=as_json(lines),
                created_by=_ACTOR,
            )
            .returning(ScheduleVersion)
        )
        version: ScheduleVersion = (await self.session.scalars(stmt)).one()
        return version

    async def rewrite_initial(
        self, commitment_id: uuid.UUID, lines: Lines, reason: str | None
    ) -> None:
        """Version 1 as the creating request sent it, in place of the default the insert
        trigger wrote a moment ago in the same transaction."""
        await self.session.execute(
            update(ScheduleVersion)
            .where(ScheduleVersion.commitment_id == commitment_id, ScheduleVersion.number == 1)
            .values(lines=as_json(lines), reason=reason)
        )

    async def broken(self, partner_id: uuid.UUID, refs: Sequence[str]) -> list[Broken]:
        """The partner's commitments among `refs` whose lines no longer sum to their amount,
        or begin before their year: one statement over the (partner_id, external_ref) index."""
        total = func.sum(ScheduleLine.amount)
        earliest = func.min(ScheduleLine.year)
        stmt = (
            select(
                Commitment.external_ref,
                (total != Commitment.amount).label("sum_differs"),
                (earliest < Commitment.year).label("line_before_year"),
            )
            .join(ScheduleLine, ScheduleLine.commitment_id == Commitment.id)
            .where(
                Commitment.partner_id == partner_id,
                Commitment.external_ref == any_(bindparam("refs", list(refs), type_=ARRAY(Text()))),
            )
            .group_by(Commitment.id)
            .having((total != Commitment.amount) | (earliest < Commitment.year))
        )
        return [
            Broken(row.external_ref, row.sum_differs, row.line_before_year)
            for row in await self.session.execute(stmt)
        ]
