"""Priority rules: plain reference data, guarded by the database's constraints."""

from app.common.pagination import ListParams
from app.common.service import ResourceService
from app.models import Priority
from app.priorities.repository import PriorityRepository
from app.priorities.schemas import PriorityFilters


class PriorityService(ResourceService[Priority, PriorityRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers; the roll-up follows priorities by id, so no write of theirs moves it."""

    repository = PriorityRepository
    noun = "priority"

    async def list(
        self, params: ListParams, filters: PriorityFilters
    ) -> tuple[list[Priority], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))
