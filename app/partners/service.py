"""Partner rules: reference data, guarded by the database's constraints."""

from app.common.pagination import ListParams
from app.common.service import ResourceService
from app.models import Partner
from app.partners.repository import PartnerRepository
from app.partners.schemas import PartnerFilters


class PartnerService(ResourceService[Partner, PartnerRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers; the roll-up follows partners by id, so no write of theirs moves it."""

    repository = PartnerRepository
    noun = "partner"

    async def list(
        self, params: ListParams, filters: PartnerFilters
    ) -> tuple[list[Partner], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))
