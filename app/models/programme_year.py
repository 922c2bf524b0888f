"""The budget years of the programme: a foreign key keeps every year inside the period."""

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ProgrammeYear(Base):
    __tablename__ = "programme_years"
    __table_args__ = (CheckConstraint("year BETWEEN 1900 AND 2200", name="year_range"),)

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
