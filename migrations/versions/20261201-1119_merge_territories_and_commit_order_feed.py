"""Merge the territories revision and the commit-order change feed (two branches of one release).

Revision ID: 748477131bf2
Revises: 4263f2a18007, 38bf3406274a
Create Date: 2026-12-01 11:19:36.062091
"""

from collections.abc import Sequence

revision: str = "748477131bf2"
down_revision: str | Sequence[str] | None = ("4263f2a18007", "38bf3406274a")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
