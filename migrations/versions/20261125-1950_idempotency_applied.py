"""Idempotency keys remember that their request's writes committed.

Revision ID: e1f2a3b4c5d6
Revises: b7c1d2e3f4a5
Create Date: 2026-11-25 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1f2a3b4c5d6"
down_revision: str | None = "b7c1d2e3f4a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys", sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "applied_at")
