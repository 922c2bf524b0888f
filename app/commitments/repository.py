"""Commitment rows, and the SQL of the list's filters."""

from sqlalchemy import select

from app.commitments.schemas import CommitmentFilters
from app.common.repository import Condition, Repository, conditions, when
from app.models import Action, Commitment


class CommitmentRepository(Repository[Commitment]):
    model = Commitment

    def where(self, filters: CommitmentFilters) -> list[Condition]:
        return conditions(
            when(filters.programme_id, Commitment.programme_id.in_),
            when(filters.action_id, Commitment.action_id.in_),
            when(filters.partner_id, Commitment.partner_id.in_),
            when(
                filters.chantier_id,
                lambda ids: Commitment.action_id.in_(
                    select(Action.id).where(Action.chantier_id.in_(ids))
                ),
            ),
            when(filters.year, Commitment.year.in_),
            when(filters.status, Commitment.status.in_),
            when(filters.instrument, Commitment.instrument.in_),
            when(filters.external_ref, Commitment.external_ref.in_),
            when(filters.synthetic, Commitment.synthetic.is_),
        )
