"""Actions: concrete projects inside one chantier."""

import uuid
from datetime import date

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import ActionStatus, sql_in


class Action(Resource):
    __tablename__ = "actions"
    __table_args__ = (
        CheckConstraint(sql_in("status", ActionStatus), name="status_known"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("weight >= 0", name="weight_non_negative"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint(
            "array_to_string(communes, ',') ~ '^((\\d{5}|2[AB]\\d{3})(,|$))*$'",
            name="communes_insee",
        ),
        # The chantier's programme, filled by a trigger and followed on a move.
        ForeignKeyConstraint(
            ["chantier_id", "programme_id"],
            ["chantiers.id", "chantiers.programme_id"],
            onupdate="CASCADE",
        ),
        UniqueConstraint("id", "programme_id"),
    )

    code: Mapped[str] = mapped_column(Text, unique=True)
    chantier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chantiers.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[uuid.UUID] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue(), index=True
    )
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default=ActionStatus.planned.value)
    progress: Mapped[int] = mapped_column(server_default="0")
    weight: Mapped[int] = mapped_column(server_default="1")
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    communes: Mapped[list[str]] = mapped_column(ARRAY(String(5)), server_default="{}")
    lead_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    synthetic: Mapped[bool] = mapped_column(server_default=false())

    sortable = Resource.sortable | {"code", "title", "status", "progress", "weight"}
