"""Merge the programme periods and the keys scoped to programmes (two branches of one release)

Revision ID: dbc46e1f67d6
Revises: 3d8e1f6a2b90, b4d81e6f2a93
Create Date: 2026-12-01 14:11:44.306786
"""

from collections.abc import Sequence

from alembic import op

revision: str = "dbc46e1f67d6"
down_revision: str | Sequence[str] | None = ("3d8e1f6a2b90", "b4d81e6f2a93")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
