"""Change feed and history: commit order, tombstones, who changed what, and every item shaped
by its resource's read model, so that it equals what GET answered at that version.

Why the feed can neither skip nor reorder a change (the SQL is app/models/sql/change_commits.sql):
- every transaction that logs a change takes a position while it commits, under one
  transaction-level lock that PostgreSQL releases only once that commit is visible to new
  snapshots; the next position is therefore taken only after the previous holder's commit is
  visible (or it rolled back, leaving a gap nothing fills);
- so the positions any snapshot sees are a prefix of those taken: a page read after (position,
  id) cannot be followed by a commit that lands before it;
- two transactions that write one row are serialised by its row lock, the second writing after
  the first committed, so the second has the larger position: per resource, versions come in the
  order they were made and the last entry is the current state.
Cursors are the lists' codec (app/common/pagination.py): (position, id) for the feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes.repository import ChangeRepository
from app.changes.schemas import (
    READ_MODELS,
    Actor,
    ChangePage,
    ChangeRead,
    FieldChange,
    HistoryPage,
    ResourceName,
    VersionRead,
)
from app.common.pagination import Int64, decode_cursor, encode_cursor, fingerprint, read_cursor
from app.common.schemas import ResourceRead
from app.errors import CursorExpired, ErrorItem, NotFound
from app.milestones.repository import MilestoneRepository
from app.milestones.schemas import TODAY
from app.models import Change
from app.models.base import etag_of

_START = (0, 0)
FEED = "changes"
# Fields every version changes: not worth listing in a history entry.
_BOOKKEEPING = frozenset({"id", "etag", "created_at", "updated_at"})
_CHANGE: TypeAdapter[Any] = TypeAdapter(ChangeRead)
_TIMESTAMPS = {
    resource: [name for name, f in model.model_fields.items() if f.annotation is datetime]
    for resource, model in READ_MODELS.items()
}


def representation(
    resource: ResourceName, row: Change, context: dict[str, Any] | None = None
) -> ResourceRead | None:
    """The resource as GET showed it at this version (None for a delete): the stored row
    through the resource's own read model, with its ETag; `context` is what that model reads
    besides the row (a milestone's fields derived from the date: see `ChangeService._context`)."""
    if row.op == "delete" or row.data is None:
        return None
    model = READ_MODELS[resource]
    data = dict(row.data)
    for name in _TIMESTAMPS[resource]:
        # Stored as the writing session rendered them; GET answers in UTC.
        if isinstance(data.get(name), str):
            data[name] = datetime.fromisoformat(data[name]).astimezone(UTC)
    data["etag"] = etag_of(row.resource_id, row.version)
    return model.model_validate(data, context=context)


def _expired() -> CursorExpired:
    return CursorExpired(
        "This cursor is unknown here (the change log was reset or restored, or the cursor comes "
        "from another server): resync from the start, without a cursor.",
        errors=[ErrorItem(parameter="cursor", detail="is expired or unknown; resync")],
    )


def _dump(model: BaseModel | None) -> dict[str, Any]:
    return {} if model is None else model.model_dump(mode="json")


def _changed(before: BaseModel | None, after: BaseModel | None) -> dict[str, FieldChange]:
    """Each field as GET showed it before and after; a creation lists every field."""
    if after is None:  # a delete: the tombstone carries no fields
        return {}
    old, new = _dump(before), _dump(after)
    return {
        name: FieldChange(before=old.get(name), after=value)
        for name, value in new.items()
        if name not in _BOOKKEEPING and (before is None or old.get(name) != value)
    }


class ChangeService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = ChangeRepository(session)

    async def _context(self, resources: Iterable[str]) -> dict[str, Any] | None:
        """What the read models of these resources need besides their rows: the database's
        current date for milestones (their slippage as GET shows it today), read only when a
        milestone is among them."""
        if ResourceName.milestones.value not in set(resources):
            return None
        return {TODAY: await MilestoneRepository(self.repo.session).today()}

    async def _after(self, cursor: str | None) -> tuple[int, int]:
        if cursor is None:
            return _START
        legacy = read_cursor(cursor)
        if isinstance(legacy, dict) and set(legacy) == {"t", "i"}:
            # Issued while the feed was ordered by transaction id: those transactions got
            # positions in that order, so the cursor resumes exactly where it was.
            txid, id = legacy["t"], legacy["i"]
            if not all(type(v) is int and 0 <= v < 2**63 for v in (txid, id)):
                raise _expired()
            position = await self.repo.position_of(txid, id) if (txid, id) != _START else 0
            if position is None:
                raise _expired()
            return position, id
        position, id = decode_cursor(cursor, FEED, (Int64, Int64))
        if (position, id) != _START and not await self.repo.is_position(position, id):
            raise _expired()
        return position, id

    async def feed(
        self, cursor: str | None, limit: int, resources: Sequence[ResourceName] | None
    ) -> ChangePage:
        after = await self._after(cursor)
        names = [r.value for r in resources] if resources else None
        rows = await self.repo.feed(after, limit + 1, names)
        context = await self._context(row.resource for _, row in rows[:limit])
        items = [
            _CHANGE.validate_python(
                {
                    "cursor": encode_cursor([position, row.id], FEED),
                    "op": row.op,
                    "resource": row.resource,
                    "resource_id": row.resource_id,
                    "version": row.version,
                    "at": row.at,
                    "data": representation(ResourceName(row.resource), row, context),
                }
            )
            for position, row in rows[:limit]
        ]
        next_cursor = items[-1].cursor if items else encode_cursor(after, FEED)
        return ChangePage(items=items, next_cursor=next_cursor, has_more=len(rows) > limit)

    async def history(
        self, resource: ResourceName, resource_id: uuid.UUID, cursor: str | None, limit: int
    ) -> HistoryPage[Any]:
        scope = fingerprint({"resource": resource.value, "resource_id": resource_id}, ())
        after = 0 if cursor is None else decode_cursor(cursor, scope, (Int64,))[0]
        rows = await self.repo.history(resource.value, resource_id, after, limit + 1)
        if not rows and cursor is None:
            raise NotFound(f"No {resource.value} with id {resource_id} was ever recorded.")
        context = await self._context([resource.value] if rows else [])
        previous = None
        if rows and rows[0].op != "create":
            before = await self.repo.version_before(resource.value, resource_id, rows[0].id)
            previous = None if before is None else representation(resource, before, context)
        items = []
        for row in rows[:limit]:
            data = representation(resource, row, context)
            actor = None
            if row.actor_name is not None:
                actor = Actor(name=row.actor_name, role=row.actor_role or "unknown")
            items.append(
                VersionRead[Any](
                    version=row.version,
                    op=row.op,  # type: ignore[arg-type]
                    at=row.at,
                    actor=actor,
                    data=data,
                    changed=_changed(previous, data),
                )
            )
            previous = data
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor([rows[limit - 1].id], scope)
        return HistoryPage[Any](items=items, next_cursor=next_cursor)
