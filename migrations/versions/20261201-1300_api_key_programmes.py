"""API keys scoped to programmes: the api_key_programmes link table

Revision ID: 3d8e1f6a2b90
Revises: 7a3e5b9c1d24
Create Date: 2026-12-01 13:00:00.000000

A key with rows here writes only inside those programmes; a key without any (every key that
exists today) keeps reaching every programme, so no row is added or changed. The key's role is
copied beside each link, held equal by the (api_key_id, role) foreign key, so that a CHECK can
refuse to scope an admin key. Programmes are RESTRICT: deleting one must not turn a key scoped
to it alone into an unscoped one. Downgrade drops the table (and the scopes with it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d8e1f6a2b90"
down_revision: str | Sequence[str] | None = "7a3e5b9c1d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_unique_constraint(op.f("api_keys_id_role_key"), "api_keys", ["id", "role"])
    op.create_table(
        "api_key_programmes",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.CheckConstraint("role <> 'admin'", name=op.f("api_key_programmes_not_admin_check")),
        sa.ForeignKeyConstraint(
            ["api_key_id", "role"],
            ["api_keys.id", "api_keys.role"],
            name=op.f("api_key_programmes_api_key_id_role_fkey"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("api_key_programmes_programme_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "programme_id", name=op.f("api_key_programmes_pkey")),
    )
    op.create_index(
        op.f("ix_api_key_programmes_programme_id"), "api_key_programmes", ["programme_id"]
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index(op.f("ix_api_key_programmes_programme_id"), table_name="api_key_programmes")
    op.drop_table("api_key_programmes")
    op.drop_constraint(op.f("api_keys_id_role_key"), "api_keys", type_="unique")
