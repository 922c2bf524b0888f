"""Milestones: the dated steps of an action (study, tender, works start, delivery…) whose
slippage says whether the action is late (the design, "Results")."""

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import OPEN_MILESTONE_STATUSES, MilestoneKind, MilestoneStatus, sql_in

_OPEN = ", ".join(repr(s.value) for s in OPEN_MILESTONE_STATUSES)


class Milestone(Resource):
    __tablename__ = "milestones"
    __table_args__ = (
        CheckConstraint(sql_in("kind", MilestoneKind), name="kind_known"),
        CheckConstraint(sql_in("status", MilestoneStatus), name="status_known"),
        # A met milestone says when; no other status has a date met.
        CheckConstraint("(status = 'met') = (met_on IS NOT NULL)", name="met_on_iff_met"),
        CheckConstraint("title <> ''", name="title_not_empty"),
        Index("ix_milestones_action_id_due_on_id", "action_id", "due_on", "id"),
        # The `late` filter and counts: an EXISTS probe per action over the only rows that can
        # make it late (a few of its milestones), never the met or cancelled ones.
        Index(
            "ix_milestones_open_action_id_due_on",
            "action_id",
            "due_on",
            "status",
            postgresql_where=text(f"status IN ({_OPEN})"),
        ),
    )

    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("actions.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default=MilestoneKind.other.value)
    due_on: Mapped[date]
    met_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(Text, server_default=MilestoneStatus.scheduled.value)

    sortable = Resource.sortable | {"due_on", "title", "status", "kind"}
