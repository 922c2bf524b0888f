"""The change log: one row per create, update and delete of a resource, written by triggers
(app/models/sql/change_log.sql), and the commit order of the transactions that wrote them
(app/models/sql/change_commits.sql).

Append-only and without foreign keys, so that it outlives the rows it describes: it serves both
the change feed (in commit order) and each resource's history.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Change(Base):
    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint("op IN ('create', 'update', 'delete')", name="op_known"),
        Index("ix_changes_txid_id", "txid", "id"),
        Index("ix_changes_resource_id_id", "resource_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # The writing transaction's 64-bit id (xid8 as bigint), assigned at its first write: it
    # groups a transaction's changes; their order in the feed is ChangeCommit.position.
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)")
    )
    resource: Mapped[str] = mapped_column(Text)
    resource_id: Mapped[uuid.UUID]
    op: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor_name: Mapped[str | None] = mapped_column(Text)
    actor_role: Mapped[str | None] = mapped_column(Text)


class ChangeCommit(Base):
    """One row per transaction that logged a change; `position` is taken while it commits, in
    commit order, so that the feed never lists a later commit before an earlier one."""

    __tablename__ = "change_commits"

    txid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # From the sequence change_commits_position_seq, under a lock held until the commit is
    # visible; null only inside the writing transaction, before its COMMIT.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
