"""Action rows, and the SQL of the list's filters."""

from app.actions.schemas import ActionFilters
from app.common.repository import Condition, Repository, conditions, when
from app.milestones.repository import late_filter
from app.models import Action


class ActionRepository(Repository[Action]):
    model = Action

    def where(self, filters: ActionFilters) -> list[Condition]:
        return conditions(
            when(filters.programme_id, Action.programme_id.in_),
            when(filters.chantier_id, Action.chantier_id.in_),
            when(filters.lead_partner_id, Action.lead_partner_id.in_),
            when(filters.status, Action.status.in_),
            when(filters.commune, Action.communes.overlap),
            when(filters.code, Action.code.in_),
            when(filters.external_id, Action.external_id.in_),
            when(filters.synthetic, Action.synthetic.is_),
            when(filters.late, late_filter),
        )
