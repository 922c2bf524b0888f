"""Schedules: a commitment's planned payments year by year (its CP), and every version of them.

`schedule_lines` holds the current schedule (what the aggregates read); `schedule_versions`
keeps each version as written, with who and when (DESIGN.md, "Money over time")."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import ScheduleKind, sql_in


class ScheduleLine(Base):
    """One year of a commitment's current schedule."""

    __tablename__ = "schedule_lines"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    commitment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))


class ScheduleVersion(Base):
    """A version of a commitment's schedule as it was written: never updated, never deleted
    (but with its commitment)."""

    __tablename__ = "schedule_versions"
    __table_args__ = (
        UniqueConstraint("commitment_id", "number"),
        CheckConstraint(sql_in("kind", ScheduleKind), name="kind_known"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("(number = 1) = (kind = 'initial')", name="first_is_initial"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    commitment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    # [{"year": 2024, "amount": "1000.00"}, ...] in year order, amounts as decimal strings.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)
