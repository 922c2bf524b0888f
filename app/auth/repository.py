"""API key rows."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.common.repository import Repository
from app.models import ApiKey


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        return (await self.session.scalars(stmt)).one_or_none()

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
        stmt = select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.created_at)
        return list((await self.session.scalars(stmt)).all())

    async def revoke(self, key: ApiKey) -> None:
        key.revoked_at = func.now()
        await self.session.flush()
