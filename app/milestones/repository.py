"""Milestone rows, the list's filters, and the SQL of an action's lateness (the `late` filter
on actions and the late counts of progress and summaries use the same condition)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, func, literal, or_, select

from app.common.repository import Condition, Repository, conditions, when
from app.milestones.schemas import MilestoneFilters
from app.models import Action, Milestone
from app.models.enums import OPEN_MILESTONE_STATUSES, MilestoneStatus


def late_actions() -> Select[Any]:
    """The ids of the late actions: those with a milestone missed, or scheduled and due before
    the database's current date. Written over the partial index's own predicate (status IN
    ('scheduled', 'missed')), so that it reads ix_milestones_open_action_id_due_on only, never
    the met or cancelled milestones."""
    # Constants rendered into the SQL, not parameters: a prepared statement's generic plan
    # knows no parameter's value, and could not prove the index's predicate from one.
    open_statuses = [literal(s.value, Text, literal_execute=True) for s in OPEN_MILESTONE_STATUSES]
    missed = literal(MilestoneStatus.missed.value, Text, literal_execute=True)
    return select(Milestone.action_id).where(
        Milestone.status.in_(open_statuses),
        or_(Milestone.status == missed, Milestone.due_on < func.current_date()),
    )


def late(action_id: Any) -> ColumnElement[bool]:
    """Whether the action `action_id` (a column) is late. An IN, not an EXISTS: in a WHERE the
    planner makes it a semi join and picks probes or a hash; in a count's FILTER it is one
    hashed subplan (one read of the partial index), where EXISTS probed it once per action."""
    return action_id.in_(late_actions())  # type: ignore[no-any-return]


def late_filter(wanted: bool) -> Condition:
    """`?late=true|false` on actions. NOT IN (action_id is never null, so it means NOT EXISTS)
    keeps the page in the actions' index order: an anti join would read and sort every action,
    the planner taking most scheduled milestones for overdue (due_on's statistics are those of
    the whole table, met milestones included)."""
    return late(Action.id) if wanted else Action.id.not_in(late_actions())


class MilestoneRepository(Repository[Milestone]):
    model = Milestone

    def where(self, action_id: uuid.UUID, filters: MilestoneFilters) -> list[Condition]:
        return [
            Milestone.action_id == action_id,
            *conditions(
                when(filters.status, Milestone.status.in_),
                when(filters.kind, Milestone.kind.in_),
            ),
        ]

    async def action(self, id: uuid.UUID) -> Action | None:
        return (await self.session.scalars(select(Action).where(Action.id == id))).one_or_none()

    async def for_write(self, id: uuid.UUID) -> tuple[Milestone, Action] | None:
        """The milestone, locked, and its action: one statement."""
        stmt = (
            select(Milestone, Action)
            .join(Action, Action.id == Milestone.action_id)
            .where(Milestone.id == id)
            .with_for_update(of=Milestone)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def synthetic_actions(self) -> list[Action]:
        """The demo's actions, in code order (the demo's milestones hang from them)."""
        stmt = select(Action).where(Action.synthetic.is_(True)).order_by(Action.code)
        return list((await self.session.scalars(stmt)).all())

    async def add_all(self, milestones: list[Milestone]) -> None:
        self.session.add_all(milestones)
        await self.session.flush()

    async def today(self) -> date:
        """The database's current date: the one clock slippage and lateness are counted by."""
        today: date = (await self.session.execute(select(func.current_date()))).scalar_one()
        return today
