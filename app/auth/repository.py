"""API key rows."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from app.common.repository import Repository
from app.models import ApiKey, ApiKeyProgramme

# The key's programmes in the lookup's own statement: authentication stays one round trip.
_SCOPE = (
    select(func.array_agg(ApiKeyProgramme.programme_id))
    .where(ApiKeyProgramme.api_key_id == ApiKey.id)
    .scalar_subquery()
)


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey
    load_options = (selectinload(ApiKey.programme_links),)

    async def by_prefix(self, prefix: str) -> tuple[ApiKey, list[uuid.UUID] | None] | None:
        """The active key with this prefix, and the programmes it is scoped to (None: none)."""
        stmt = select(ApiKey, _SCOPE).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def touch(self, key: ApiKey) -> None:
        """Record the last use, at most once a minute per key so reads stay cheap."""
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key.id,
                (ApiKey.last_used_at.is_(None))
                | (ApiKey.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 1)),
            )
            .values(last_used_at=func.now())
            .execution_options(synchronize_session=False)
        )

    async def has_active_admin(self) -> bool:
        stmt = select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).limit(1)
        return (await self.session.scalars(stmt)).first() is not None

    async def active(self) -> list[ApiKey]:
        stmt = (
            select(ApiKey)
            .where(ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at)
            .options(*self.load_options)
        )
        return list((await self.session.scalars(stmt)).all())

    async def revoke(self, key: ApiKey) -> None:
        """Revoked for good; its scope goes, so that it holds back no programme's deletion."""
        key.revoked_at = func.now()
        key.programme_links = []
        await self.session.flush()
