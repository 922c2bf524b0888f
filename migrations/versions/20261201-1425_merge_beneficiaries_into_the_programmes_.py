"""Merge beneficiaries into the programmes release (two branches of one release)

Revision ID: d0751f7d6994
Revises: 3376994bfac4, dbc46e1f67d6
Create Date: 2026-12-01 14:25:12.343903
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d0751f7d6994"
down_revision: str | Sequence[str] | None = ("3376994bfac4", "dbc46e1f67d6")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
