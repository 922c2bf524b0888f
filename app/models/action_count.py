"""How many actions each chantier has: kept by statement triggers on `actions` in the writing
transaction (app/models/sql/action_counts.sql), so that a summary's lateness by chantier reads
one row per chantier instead of counting every action."""

import uuid

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ChantierActionCount(Base):
    """Derived data: never written by the application, only by the database's triggers."""

    __tablename__ = "chantier_action_counts"

    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), primary_key=True
    )
    actions: Mapped[int] = mapped_column(BigInteger)
