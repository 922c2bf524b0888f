"""merge milestones, financing plans, indicators and the payment batches' trigger plans

Revision ID: 6e3da7db3962
Revises: d6738a90c8b4, 627bf29a8c48, a23b6330ec46, 7f3e1b9c2a64
Create Date: 2026-12-01 20:45:19.124913
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6e3da7db3962"
down_revision: str | Sequence[str] | None = (
    "d6738a90c8b4",
    "627bf29a8c48",
    "a23b6330ec46",
    "7f3e1b9c2a64",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
