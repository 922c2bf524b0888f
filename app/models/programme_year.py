"""The budget years of each programme, kept equal to its period by a trigger on programmes
(app/models/sql/programme_periods.sql): the composite foreign keys of commitments and chantier
targets, (programme_id, year), keep every year inside its own programme's period."""

import uuid

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ProgrammeYear(Base):
    """Derived data: never written by the application, only by the database's trigger."""

    __tablename__ = "programme_years"
    __table_args__ = (CheckConstraint("year BETWEEN 1900 AND 2200", name="year_range"),)

    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
