"""Priority rows, and the SQL of the list's filters."""

from app.common.repository import Condition, Repository, conditions, when
from app.models import Priority
from app.priorities.schemas import PriorityFilters


class PriorityRepository(Repository[Priority]):
    model = Priority

    def where(self, filters: PriorityFilters) -> list[Condition]:
        return conditions(
            when(filters.programme_id, Priority.programme_id.in_),
            when(filters.code, Priority.code.in_),
        )
