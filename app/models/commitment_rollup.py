"""Commitment roll-ups: sums per (chantier, partner, year, status, instrument), kept exact by
triggers on `commitments` and `actions` in the writing transaction (see the migration
20261125-1921_commitment_rollups and README "Aggregates")."""

import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class CommitmentRollup(Base):
    """Derived data: never written by the application, only by the database's triggers."""

    __tablename__ = "commitment_rollups"

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
    n: Mapped[int] = mapped_column(BigInteger)
