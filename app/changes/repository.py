"""Reads of the change log: the feed in commit order, and one resource's history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Change

# Transactions older than the snapshot's xmin have all ended: their rows are final and visible.
# A transaction still running may hold a smaller id than rows already committed by others, so
# the feed stops before it instead of skipping its rows once it commits.
HORIZON = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


class ChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def feed(
        self, after: tuple[int, int], limit: int, resources: Sequence[str] | None
    ) -> list[Change]:
        stmt = (
            select(Change)
            .where(
                tuple_(Change.txid, Change.id) > tuple_(literal(after[0]), literal(after[1])),
                Change.txid < HORIZON,
            )
            .order_by(Change.txid, Change.id)
            .limit(limit)
        )
        if resources:
            stmt = stmt.where(Change.resource.in_(resources))
        return list((await self.session.scalars(stmt)).all())

    async def is_position(self, txid: int, id: int) -> bool:
        """Whether (txid, id) names a row of this log, i.e. a cursor this database issued."""
        stmt = select(Change.id).where(Change.id == id, Change.txid == txid)
        return (await self.session.scalar(stmt)) is not None

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
