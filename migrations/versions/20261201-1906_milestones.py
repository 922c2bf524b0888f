"""Milestones of an action: due and met dates, status; the partial index of the `late` filter

Revision ID: d6738a90c8b4
Revises: 5c1a9e7d3b20
Create Date: 2026-12-01 19:06:35.794754

The `milestones` table (a met milestone, and only a met one, has `met_on`: a CHECK), its list
index, and the partial index the `late` filter and counts probe (the scheduled and missed
milestones only). Milestones join the change log: capture triggers (app/models/sql/
milestones.sql, frozen below) over the existing capture function.

Downgrade drops the table and the milestones' entries of the change log (the previous revision
has no milestones resource, so its feed could not show them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d6738a90c8b4"
down_revision: str | Sequence[str] | None = "5c1a9e7d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CAPTURE_TRIGGERS = (
    """
CREATE TRIGGER milestones_capture_insert AFTER INSERT ON public.milestones
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER milestones_capture_update AFTER UPDATE ON public.milestones
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER milestones_capture_delete AFTER DELETE ON public.milestones
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "milestones",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="other", nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), server_default="scheduled", nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(status = 'met') = (met_on IS NOT NULL)", name=op.f("milestones_met_on_iff_met_check")
        ),
        sa.CheckConstraint(
            "kind IN ('study', 'authorisation', 'tender', 'works_start', 'delivery', 'payment',"
            " 'other')",
            name=op.f("milestones_kind_known_check"),
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'met', 'missed', 'cancelled')",
            name=op.f("milestones_status_known_check"),
        ),
        sa.CheckConstraint("title <> ''", name=op.f("milestones_title_not_empty_check")),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("milestones_action_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("milestones_pkey")),
    )
    op.create_index(
        "ix_milestones_action_id_due_on_id",
        "milestones",
        ["action_id", "due_on", "id"],
        unique=False,
    )
    op.create_index(
        "ix_milestones_open_action_id_due_on",
        "milestones",
        ["action_id", "due_on", "status"],
        unique=False,
        postgresql_where=sa.text("status IN ('scheduled', 'missed')"),
    )
    for trigger in CAPTURE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # The table's triggers go with it.
    op.execute("DELETE FROM changes WHERE resource = 'milestones'")
    op.drop_index(
        "ix_milestones_open_action_id_due_on",
        table_name="milestones",
        postgresql_where=sa.text("status IN ('scheduled', 'missed')"),
    )
    op.drop_index("ix_milestones_action_id_due_on_id", table_name="milestones")
    op.drop_table("milestones")
