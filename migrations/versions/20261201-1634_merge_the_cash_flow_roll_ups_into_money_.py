"""Merge the cash-flow roll-ups into money over time (two branches of one release)

Revision ID: 6ac342e64136
Revises: 5c1a9e7d3b20, 325c80c12572
Create Date: 2026-12-01 16:34:00.660280
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6ac342e64136"
down_revision: str | Sequence[str] | None = ("5c1a9e7d3b20", "325c80c12572")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
