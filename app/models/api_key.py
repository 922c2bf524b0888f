"""API keys: stored as a SHA-256 digest, never in clear, looked up by a public prefix."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import Role, sql_in


class ApiKey(Resource):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="role_known"),
        CheckConstraint("(role = 'partner') = (partner_id IS NOT NULL)", name="partner_role"),
    )

    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
