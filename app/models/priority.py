"""Priorities: the programme's cross-cutting impératifs."""

import uuid

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource


class Priority(Resource):
    __tablename__ = "priorities"
    # The target of chantier_priorities' (priority_id, programme_id) foreign key.
    __table_args__ = (
        UniqueConstraint("id", "programme_id"),
        UniqueConstraint("programme_id", "code"),  # codes are the programme's own
    )

    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    position: Mapped[int] = mapped_column(server_default="0")

    sortable = Resource.sortable | {"code", "name", "position"}
