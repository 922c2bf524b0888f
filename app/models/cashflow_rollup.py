"""Cash-flow roll-ups: scheduled and paid sums per (programme, chantier, partner, year, month,
status, instrument), kept exact by triggers on `schedule_lines`, `payments`, `commitments` and
`actions` in the writing transaction (app/models/sql/cashflow_rollups.sql, and README "How the
aggregates stay fast and exact")."""

import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

_READ = [
    "programme_id",
    "chantier_id",
    "partner_id",
    "instrument",
    "scheduled_sum",
    "paid_sum",
    "line_count",
]
"""The columns the cash-flow cube reads besides status, year and month."""


class CashflowRollup(Base):
    """Derived data: never written by the application, only by the database's triggers.

    `month` 0 is the whole year (schedule lines, which are yearly, and the year's payments);
    months 1-12 hold each month's payments."""

    __tablename__ = "cashflow_rollups"
    __table_args__ = (
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
        ),
        CheckConstraint("month BETWEEN 0 AND 12", name="month_known"),
        CheckConstraint("month = 0 OR line_count = 0", name="lines_yearly"),
        # The cube reads the committed commitments' yearly rows (month 0) or monthly ones; with
        # the month axis under a year filter, only the monthly rows of the years shown. Both
        # indexes cover what the cube reads: the yearly rows index-only (a bitmap scan visited
        # about a heap page a row, the yearly rows lying among the monthly ones), and the
        # monthly rows of the years shown without a scan of the whole table. Including the sums
        # makes no roll-up update HOT: a row's update writes an entry in each index it is in.
        Index(
            "ix_cashflow_rollups_yearly",
            "status",
            "year",
            postgresql_include=_READ,
            postgresql_where=text("month = 0"),
        ),
        Index(
            "ix_cashflow_rollups_status_year_month",
            "status",
            "year",
            "month",
            postgresql_include=_READ,
        ),
        # The cells no line and no payment feed any more, which each trigger deletes.
        Index(
            "ix_cashflow_rollups_emptied",
            "programme_id",
            postgresql_where=text("line_count = 0 AND payment_count = 0"),
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
    month: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    instrument: Mapped[str] = mapped_column(Text, primary_key=True)
    # Unbounded NUMERIC: a sum of NUMERIC(15,2) amounts may need more digits than one amount.
    scheduled_sum: Mapped[Decimal] = mapped_column(Numeric)
    paid_sum: Mapped[Decimal] = mapped_column(Numeric)
    line_count: Mapped[int] = mapped_column(BigInteger)
    payment_count: Mapped[int] = mapped_column(BigInteger)


class CashflowRollupRemoval(Base):
    """The figures of commitments being deleted, on their way out of `cashflow_rollups`: staged
    by the commitments' row trigger, summed into the roll-ups by cell and deleted by the
    statement's trigger. A statement that deletes 10,000 commitments of one cell thus updates
    that cell once, not 10,000 times (each update of a cell within one transaction is a new row
    version that the next one's lookup walks past: quadratic). Empty between statements."""

    __tablename__ = "cashflow_rollup_removals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    xact: Mapped[int] = mapped_column(BigInteger, index=True)
    """The staging transaction (txid_current())."""
    programme_id: Mapped[uuid.UUID]
    chantier_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID]
    year: Mapped[int]
    month: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(Text)
    instrument: Mapped[str] = mapped_column(Text)
    scheduled_sum: Mapped[Decimal] = mapped_column(Numeric)
    paid_sum: Mapped[Decimal] = mapped_column(Numeric)
    line_count: Mapped[int] = mapped_column(BigInteger)
    payment_count: Mapped[int] = mapped_column(BigInteger)
