"""Idempotency key rows: claim, mark applied, complete, release, purge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status_code: int | None
    response_headers: list[Any] | None
    response_body: bytes | None
    applied: bool
    lease_expired: bool


CLAIM = text(
    """
INSERT INTO idempotency_keys (owner_id, key, fingerprint)
VALUES (:owner_id, :key, :fingerprint)
ON CONFLICT (owner_id, key) DO NOTHING
RETURNING 1
"""
)

# An expired row, or an unfinished one whose request died, is taken over by the new request.
TAKE_OVER = text(
    """
UPDATE idempotency_keys
SET fingerprint = :fingerprint, created_at = now(), completed_at = NULL, applied_at = NULL,
    status_code = NULL, response_headers = NULL, response_body = NULL
WHERE owner_id = :owner_id AND key = :key
  AND (created_at < now() - make_interval(hours => :ttl_hours)
       OR (completed_at IS NULL AND applied_at IS NULL
           AND created_at < now() - make_interval(secs => :lease_seconds)))
RETURNING 1
"""
)

EXISTING = text(
    """
SELECT fingerprint, status_code, response_headers, response_body, applied_at IS NOT NULL,
       created_at < now() - make_interval(secs => :lease_seconds)
FROM idempotency_keys WHERE owner_id = :owner_id AND key = :key
"""
)

COMPLETE = text(
    """
UPDATE idempotency_keys
SET status_code = :status_code, response_headers = CAST(:headers AS jsonb),
    response_body = :body, completed_at = now()
WHERE owner_id = :owner_id AND key = :key
"""
)

APPLIED = text(
    "UPDATE idempotency_keys SET applied_at = now() WHERE owner_id = :owner_id AND key = :key"
)

# Only a claim that was not applied: one whose commit went through (even if the request then
# failed, or its commit's answer was lost) must never run a second time.
RELEASE = text(
    "DELETE FROM idempotency_keys WHERE owner_id = :owner_id AND key = :key AND applied_at IS NULL"
)

PURGE = text(
    """
DELETE FROM idempotency_keys WHERE (owner_id, key) IN (
    SELECT owner_id, key FROM idempotency_keys
    WHERE created_at < now() - make_interval(hours => :ttl_hours)
    LIMIT :limit FOR UPDATE SKIP LOCKED
)
"""
)


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self,
        owner_id: uuid.UUID,
        key: str,
        fingerprint: str,
        *,
        ttl_hours: int,
        lease_seconds: int,
    ) -> Stored | None:
        """None when this request now owns the key; else what is stored under it."""
        ids = {"owner_id": owner_id, "key": key, "fingerprint": fingerprint}
        if (await self.session.execute(CLAIM, ids)).first() is not None:
            return None
        taken = await self.session.execute(
            TAKE_OVER, ids | {"ttl_hours": ttl_hours, "lease_seconds": lease_seconds}
        )
        if taken.first() is not None:
            return None
        row = (await self.session.execute(EXISTING, ids | {"lease_seconds": lease_seconds})).one()
        return Stored(*row)

    async def complete(
        self, owner_id: uuid.UUID, key: str, status_code: int, headers: str, body: bytes | None
    ) -> None:
        """Store the answer for replays (body None: withheld, it held a secret)."""
        await self.session.execute(
            COMPLETE,
            {
                "owner_id": owner_id,
                "key": key,
                "status_code": status_code,
                "headers": headers,
                "body": body,
            },
        )

    async def mark_applied(self, owner_id: uuid.UUID, key: str) -> None:
        """In the request's transaction: its writes and this mark commit together or not at all."""
        await self.session.execute(APPLIED, {"owner_id": owner_id, "key": key})

    async def release(self, owner_id: uuid.UUID, key: str) -> None:
        await self.session.execute(RELEASE, {"owner_id": owner_id, "key": key})

    async def purge(self, ttl_hours: int, limit: int = 100) -> int:
        result = await self.session.execute(PURGE, {"ttl_hours": ttl_hours, "limit": limit})
        return int(result.rowcount)  # type: ignore[attr-defined]
