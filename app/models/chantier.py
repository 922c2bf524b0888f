"""Chantiers: the priority workstreams, the priorities they serve and their yearly targets."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Resource


class Chantier(Resource):
    __tablename__ = "chantiers"
    __table_args__ = (CheckConstraint("number > 0", name="number_positive"),)

    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    number: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")

    priority_links: Mapped[list[ChantierPriority]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ChantierPriority.priority_id"
    )
    target_rows: Mapped[list[ChantierTarget]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ChantierTarget.year"
    )

    sortable = Resource.sortable | {"number", "code", "name"}

    @property
    def priority_ids(self) -> list[uuid.UUID]:
        return [link.priority_id for link in self.priority_links]

    @property
    def targets(self) -> list[ChantierTarget]:
        return self.target_rows


class ChantierPriority(Base):
    """A chantier serves one or more priorities (many-to-many)."""

    __tablename__ = "chantier_priorities"

    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), primary_key=True
    )
    priority_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("priorities.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ChantierTarget(Base):
    """What the programme promised to spend on a chantier in one budget year."""

    __tablename__ = "chantier_targets"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(
        ForeignKey("programme_years.year", ondelete="RESTRICT"), primary_key=True
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
