"""Partner rows, and the SQL of the list's filters."""

from app.common.repository import Condition, Repository, conditions, when
from app.models import Partner
from app.partners.schemas import PartnerFilters


class PartnerRepository(Repository[Partner]):
    model = Partner

    def where(self, filters: PartnerFilters) -> list[Condition]:
        return conditions(
            when(filters.code, Partner.code.in_),
            when(filters.kind, Partner.kind.in_),
        )
