"""API keys: stored as a SHA-256 digest, never in clear, looked up by a public prefix; a key
may be scoped to programmes (api_key_programmes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Resource
from app.models.enums import Role, sql_in


class ApiKey(Resource):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="role_known"),
        CheckConstraint("(role = 'partner') = (partner_id IS NOT NULL)", name="partner_role"),
        # The target of api_key_programmes' (api_key_id, role) foreign key.
        UniqueConstraint("id", "role"),
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

    programme_links: Mapped[list[ApiKeyProgramme]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="ApiKeyProgramme.programme_id",
        primaryjoin="ApiKey.id == ApiKeyProgramme.api_key_id",
        foreign_keys="ApiKeyProgramme.api_key_id",
    )

    @property
    def programme_ids(self) -> list[uuid.UUID] | None:
        """The programmes the key is scoped to; None: every programme."""
        return [link.programme_id for link in self.programme_links] or None


class ApiKeyProgramme(Base):
    """A programme an API key is scoped to: a key with such rows writes only inside them; a key
    without any reaches every programme. An admin key is never scoped (it mints keys, so a
    scope would bound nothing): the key's role travels here and the CHECK refuses it."""

    __tablename__ = "api_key_programmes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["api_key_id", "role"],
            ["api_keys.id", "api_keys.role"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        CheckConstraint("role <> 'admin'", name="not_admin"),
    )

    api_key_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # RESTRICT: deleting a programme must not widen a key scoped to it into an unscoped one.
    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(Text)
