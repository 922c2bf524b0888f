"""Commitment list indexes: (key, created_at, id) so filtered pages are index scans.

Revision ID: a3f1c2d4e5b6
Revises: 42dfebcb87a4
Create Date: 2026-11-25 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a3f1c2d4e5b6"
down_revision: str | None = "42dfebcb87a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SINGLE = ("action_id", "partner_id", "year")


def upgrade() -> None:
    op.create_index("ix_commitments_created_at_id", "commitments", ["created_at", "id"])
    for column in _SINGLE:
        op.create_index(
            f"ix_commitments_{column}_created_at", "commitments", [column, "created_at", "id"]
        )
        op.drop_index(f"ix_commitments_{column}", table_name="commitments")


def downgrade() -> None:
    for column in _SINGLE:
        op.create_index(f"ix_commitments_{column}", "commitments", [column])
        op.drop_index(f"ix_commitments_{column}_created_at", table_name="commitments")
    op.drop_index("ix_commitments_created_at_id", table_name="commitments")
