"""Priority rules: reference data of one programme, guarded by the database's constraints."""

import uuid
from typing import Any

from app.common.pagination import ListParams
from app.common.service import ResourceService
from app.models import Priority
from app.priorities.repository import PriorityRepository
from app.priorities.schemas import PriorityFilters
from app.programmes.repository import ProgrammeRepository
from app.programmes.service import programme_for


class PriorityService(ResourceService[Priority, PriorityRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers; the roll-up follows priorities by id, so no write of theirs moves it."""

    repository = PriorityRepository
    noun = "priority"

    async def list(
        self, params: ListParams, filters: PriorityFilters
    ) -> tuple[list[Priority], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    def programme_of(self, obj: Priority) -> uuid.UUID:
        return obj.programme_id

    async def build(self, values: dict[str, Any]) -> Priority:
        given = values.pop("programme_id", None)
        repo = ProgrammeRepository(self.repo.session)
        programme_id = await programme_for(repo, given, self.within)
        return Priority(**values, programme_id=programme_id)
