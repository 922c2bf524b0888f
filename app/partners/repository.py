"""Partner rows."""

from sqlalchemy import select

from app.common.repository import Repository
from app.models import Partner


class PartnerRepository(Repository[Partner]):
    model = Partner

    async def by_code(self, code: str) -> Partner | None:
        return (await self.session.scalars(select(Partner).where(Partner.code == code))).first()
