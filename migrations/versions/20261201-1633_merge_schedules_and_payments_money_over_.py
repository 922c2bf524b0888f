"""Merge the schedules and the payments (money over time: two branches of one release)

Revision ID: 325c80c12572
Revises: e9abd7853588, 5c7e2a9d4b13
Create Date: 2026-12-01 16:33:36.693420
"""

from collections.abc import Sequence

from alembic import op

revision: str = "325c80c12572"
down_revision: str | Sequence[str] | None = ("e9abd7853588", "5c7e2a9d4b13")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
