"""Chantiers: the priority workstreams, the priorities they serve and their yearly targets."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Resource


class Chantier(Resource):
    __tablename__ = "chantiers"
    __table_args__ = (
        CheckConstraint("number > 0", name="number_positive"),
        # The target of the (chantier_id, programme_id) foreign keys of actions and links.
        UniqueConstraint("id", "programme_id"),
        # Numbers and codes are the programme's own: two programmes may both have a chantier 1.
        UniqueConstraint("programme_id", "number"),
        UniqueConstraint("programme_id", "code"),
    )

    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    number: Mapped[int]
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")

    priority_links: Mapped[list[ChantierPriority]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="ChantierPriority.priority_id",
        primaryjoin="Chantier.id == ChantierPriority.chantier_id",
        foreign_keys="ChantierPriority.chantier_id",
    )
    target_rows: Mapped[list[ChantierTarget]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="ChantierTarget.year",
        primaryjoin="Chantier.id == ChantierTarget.chantier_id",
        foreign_keys="ChantierTarget.chantier_id",
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
    __table_args__ = (
        # The chantier's programme (filled by a trigger), which must be the priority's own.
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["priority_id", "programme_id"],
            ["priorities.id", "priorities.programme_id"],
            ondelete="RESTRICT",
        ),
    )

    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), primary_key=True
    )
    priority_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("priorities.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    programme_id: Mapped[uuid.UUID] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )


class ChantierTarget(Base):
    """What the programme promised to spend on a chantier in one budget year."""

    __tablename__ = "chantier_targets"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # The chantier's programme (filled by a trigger), whose period holds the year.
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["programme_id", "year"],
            ["programme_years.programme_id", "programme_years.year"],
            ondelete="RESTRICT",
        ),
    )

    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    programme_id: Mapped[uuid.UUID] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
