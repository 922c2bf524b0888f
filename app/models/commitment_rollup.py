"""Commitment roll-ups: sums per (programme, chantier, partner, year, status, instrument), kept
exact by triggers on `commitments` and `actions` in the writing transaction (app/models/sql/
commitment_rollups.sql, and README "How the aggregates stay fast and exact")."""

import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class CommitmentRollup(Base):
    """Derived data: never written by the application, only by the database's triggers."""

    __tablename__ = "commitment_rollups"
    __table_args__ = (
        # The chantier's own programme, followed if the chantier ever moves.
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
        ),
    )

    programme_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="RESTRICT"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    instrument: Mapped[str] = mapped_column(Text, primary_key=True)
    # Unbounded NUMERIC: a sum of NUMERIC(15,2) amounts may need more digits than one amount.
    amount_sum: Mapped[Decimal] = mapped_column(Numeric)
    disbursed_sum: Mapped[Decimal] = mapped_column(Numeric)
    commitment_count: Mapped[int] = mapped_column(BigInteger)
