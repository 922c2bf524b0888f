"""Reads of the change log: the feed in commit order, and one resource's history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import and_, case, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models import Change, ChangeCommit


class ChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def feed(
        self, after: tuple[int, int], limit: int, resources: Sequence[str] | None
    ) -> list[tuple[int, Change]]:
        """Changes after (position, id), in commit order, each with its transaction's position.

        Only committed transactions are visible, and every one of them has its position; the
        visible positions are a prefix of those ever taken (app/models/sql/change_commits.sql),
        so nothing that commits later can land before `after`."""
        position, after_id = after
        # Per transaction, at most `limit` entries from the index (txid, id): the row bounds
        # keep the planner on that index (an equality on txid would let it prefer the primary
        # key and filter, scanning from the log's start when few transactions are known).
        entries = (
            select(Change)
            .where(
                tuple_(Change.txid, Change.id)
                > tuple_(
                    ChangeCommit.txid, case((ChangeCommit.position == position, after_id), else_=0)
                ),
                Change.txid <= ChangeCommit.txid,
            )
            .order_by(Change.txid, Change.id)
            .limit(limit)
        )
        if resources:
            entries = entries.where(Change.resource.in_(resources))
        lateral = entries.lateral("entry")
        entry = aliased(Change, lateral)
        stmt = (
            select(ChangeCommit.position, entry)
            .join(lateral, true())
            .where(ChangeCommit.position >= position)
            .order_by(ChangeCommit.position, entry.id)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(int(p), change) for p, change in rows if p is not None]

    async def is_position(self, position: int, id: int) -> bool:
        """Whether (position, id) names a change of this log, i.e. a cursor this database issued."""
        stmt = (
            select(Change.id)
            .join(ChangeCommit, ChangeCommit.txid == Change.txid)
            .where(Change.id == id, ChangeCommit.position == position)
        )
        return (await self.session.scalar(stmt)) is not None

    async def position_of(self, txid: int, id: int) -> int | None:
        """The position of a change named by (transaction id, id): cursors issued before the
        feed was in commit order (their transactions got positions in txid order)."""
        stmt = (
            select(ChangeCommit.position)
            .join(Change, Change.txid == ChangeCommit.txid)
            .where(and_(Change.id == id, Change.txid == txid))
        )
        return await self.session.scalar(stmt)

    async def history(
        self, resource: str, resource_id: uuid.UUID, after_id: int, limit: int
    ) -> list[Change]:
        stmt = (
            select(Change)
            .where(
                Change.resource_id == resource_id,
                Change.resource == resource,
                Change.id > after_id,
            )
            .order_by(Change.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def version_before(
        self, resource: str, resource_id: uuid.UUID, before_id: int
    ) -> Change | None:
        """The entry just before `before_id` in a resource's history (what a page's first
        update changed from)."""
        stmt = (
            select(Change)
            .where(
                Change.resource_id == resource_id,
                Change.resource == resource,
                Change.id < before_id,
            )
            .order_by(Change.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()
