"""Priorities: the programme's cross-cutting impératifs."""

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource


class Priority(Resource):
    __tablename__ = "priorities"

    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    position: Mapped[int] = mapped_column(server_default="0")

    sortable = Resource.sortable | {"code", "name", "position"}
