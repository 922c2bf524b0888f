"""Territorial roll-ups: the commitment roll-up's sums per territory, at three levels (commune,
EPCI, département), each commitment's money split among its action's communes as the
territorial drilldowns split it; kept exact by triggers on `commitments`, `actions` and
`territories` in the writing transaction (app/models/sql/territorial_rollups.sql, and README
"How the aggregates stay fast and exact")."""

import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

LEVELS = ("commune", "epci", "departement")


class TerritorialRollup(Base):
    """Derived data: never written by the application, only by the database's triggers.

    One row per (level, year, territory, programme, chantier, partner, status, instrument):
    at each level a commitment is in one row per territory its action's communes lie in
    (`territory` '' for the share of an action without communes, or of a commune that the
    referential does not place at that level), holding the sum of its shares there.
    """

    __tablename__ = "territorial_rollups"
    __table_args__ = (
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
        ),
        CheckConstraint(f"level IN {LEVELS!r}", name="level_known"),
        # The key's order: a drilldown reads one level, often one year or a few, of all three.
        # The key holds the sums too, so that such a drilldown reads the index alone (a scan of
        # the table read every level and year). A sum's update was already seldom HOT (full
        # pages); it writes a new key entry now, as it does in the other two indexes.
        PrimaryKeyConstraint(
            *("level", "year", "territory", "programme_id", "chantier_id", "partner_id"),
            *("status", "instrument"),
            postgresql_include=["amount_sum", "disbursed_sum", "commitment_count"],
        ),
        # An action moving or changing communes empties the cells of its chantier.
        Index(None, "chantier_id"),
        # A filter by one territory.
        Index("ix_territorial_rollups_level_territory", "level", "territory"),
    )

    level: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(autoincrement=False)
    territory: Mapped[str] = mapped_column(Text)
    programme_id: Mapped[uuid.UUID] = mapped_column()
    chantier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chantiers.id", ondelete="RESTRICT"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(Text)
    instrument: Mapped[str] = mapped_column(Text)
    amount_sum: Mapped[Decimal] = mapped_column(Numeric)
    disbursed_sum: Mapped[Decimal] = mapped_column(Numeric)
    commitment_count: Mapped[int] = mapped_column(BigInteger)
