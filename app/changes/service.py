"""Change feed and history: opaque cursors, commit order, tombstones, who changed what."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.changes.repository import ChangeRepository
from app.changes.schemas import (
    Actor,
    ChangePage,
    ChangeRead,
    FieldChange,
    HistoryPage,
    ResourceName,
    VersionRead,
)
from app.errors import CursorExpired, ErrorItem, InvalidParameter, NotFound
from app.models import Change

_START = (0, 0)
# Fields every version changes: not worth listing in a history entry.
_BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at"})


def encode_position(txid: int, id: int) -> str:
    raw = json.dumps({"t": txid, "i": id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> InvalidParameter:
    return InvalidParameter(
        "cursor is not a cursor this feed produced.",
        errors=[ErrorItem(parameter="cursor", detail="is not a cursor this feed produced")],
    )


def decode_position(cursor: str) -> tuple[int, int]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        txid, id = payload["t"], payload["i"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise _bad_cursor() from None
    valid = all(type(v) is int and 0 <= v < 2**63 for v in (txid, id))
    if not valid or set(payload) != {"t", "i"}:
        raise _bad_cursor()
    return txid, id


def _change(row: Change) -> ChangeRead:
    return ChangeRead(
        cursor=encode_position(row.txid, row.id),
        op=row.op,  # type: ignore[arg-type]
        resource=ResourceName(row.resource),
        resource_id=row.resource_id,
        version=row.version,
        at=row.at,
        data=None if row.op == "delete" else row.data,
    )


def _version(row: Change) -> VersionRead:
    if row.op == "create":
        changed = {
            k: FieldChange(before=None, after=v)
            for k, v in (row.data or {}).items()
            if k not in _BOOKKEEPING
        }
    else:
        changed = {k: FieldChange(before=v[0], after=v[1]) for k, v in (row.changed or {}).items()}
    actor = None
    if row.actor_name is not None:
        actor = Actor(name=row.actor_name, role=row.actor_role or "unknown")
    return VersionRead(version=row.version, op=row.op, at=row.at, actor=actor, changed=changed)  # type: ignore[arg-type]


class ChangeService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = ChangeRepository(session)

    async def feed(
        self, cursor: str | None, limit: int, resources: Sequence[ResourceName] | None
    ) -> ChangePage:
        after = _START if cursor is None else decode_position(cursor)
        if after != _START and not await self.repo.is_position(*after):
            raise CursorExpired(
                "This cursor is unknown here (the change log was reset or restored, or the "
                "cursor comes from another server): resync from the start, without a cursor.",
                errors=[ErrorItem(parameter="cursor", detail="is expired or unknown; resync")],
            )
        names = [r.value for r in resources] if resources else None
        rows = await self.repo.feed(after, limit + 1, names)
        has_more = len(rows) > limit
        items = [_change(row) for row in rows[:limit]]
        next_cursor = items[-1].cursor if items else encode_position(*after)
        return ChangePage(items=items, next_cursor=next_cursor, has_more=has_more)

    async def history(
        self, resource: ResourceName, resource_id: uuid.UUID, cursor: str | None, limit: int
    ) -> HistoryPage:
        after = 0
        if cursor is not None:
            txid, after = decode_position(cursor)
            if txid != 0:
                raise _bad_cursor()
        rows = await self.repo.history(resource.value, resource_id, after, limit + 1)
        if not rows and cursor is None:
            raise NotFound(f"No {resource.value} with id {resource_id} was ever recorded.")
        items = [_version(row) for row in rows[:limit]]
        next_cursor = encode_position(0, rows[limit - 1].id) if len(rows) > limit else None
        return HistoryPage(items=items, next_cursor=next_cursor)
