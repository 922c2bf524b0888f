"""Programmes: a collectivity's multi-year plan (its period, its territory, its status)."""

from sqlalchemy import CheckConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import ProgrammeStatus, sql_in

# A commune's INSEE code (Corsica included) or a collectivity's SIREN.
TERRITORY_CODE_PATTERN = r"^([0-9]{9}|[0-9][0-9AB][0-9]{3})$"


class Programme(Resource):
    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint("start_year <= end_year", name="years_ordered"),
        CheckConstraint("start_year BETWEEN 1900 AND 2200", name="start_year_range"),
        CheckConstraint("end_year BETWEEN 1900 AND 2200", name="end_year_range"),
        CheckConstraint(sql_in("status", ProgrammeStatus), name="status_known"),
        CheckConstraint(
            f"territory_code ~ '{TERRITORY_CODE_PATTERN}'", name="territory_code_format"
        ),
    )

    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    start_year: Mapped[int]
    end_year: Mapped[int]
    territory_code: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=ProgrammeStatus.active.value)

    sortable = Resource.sortable | {"code", "name", "start_year", "end_year", "status"}
