"""Summaries: each chantier's number of actions kept by the database

Revision ID: 5c1f0a7d2e94
Revises: ab2683f90fdf
Create Date: 2026-12-02 03:20:00.000000

A summary's lateness by chantier counted every action at each request (30 ms of a 47 ms
`/v1/summary` at 50,000 actions). `chantier_action_counts` holds each chantier's number of
actions, kept by statement triggers on `actions` in the writing transaction; the backfill
counts the actions there are (chantier_action_counts_rebuild, also there for a repair), with
writers of actions held off meanwhile.
Downgrade drops the triggers, their functions and the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1f0a7d2e94"
down_revision: str | Sequence[str] | None = "ab2683f90fdf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# app/models/sql/action_counts.sql as this revision leaves it.
NEW = (
    """
CREATE FUNCTION public.chantier_action_counts_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, count(*) FROM new_rows GROUP BY chantier_id ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;
""",
    """
CREATE FUNCTION public.chantier_action_counts_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Only statements that move actions between chantiers change a count.
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, sum(delta)
  FROM (SELECT chantier_id, 1 AS delta FROM new_rows
        UNION ALL
        SELECT chantier_id, -1 FROM old_rows) AS moved
  GROUP BY chantier_id
  HAVING sum(delta) <> 0
  ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;
""",
    """
CREATE FUNCTION public.chantier_action_counts_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Every chantier of a deleted action has its row, so this only ever updates (an upsert
  -- rather than an UPDATE ... FROM for its lock order).
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, -count(*) FROM old_rows GROUP BY chantier_id ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;
""",
    """
CREATE FUNCTION public.chantier_action_counts_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chantier_action_counts;
  RETURN NULL;
END
$$;
""",
    """
CREATE FUNCTION public.chantier_action_counts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recount from the actions (a migration's backfill, or a repair by ops); writers of actions
-- wait meanwhile (SHARE ROW EXCLUSIVE: reads go on, and two rebuilds take turns).
BEGIN
  LOCK TABLE actions IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM chantier_action_counts;
  INSERT INTO chantier_action_counts (chantier_id, actions)
  SELECT chantier_id, count(*) FROM actions GROUP BY chantier_id;
END
$$;
""",
    """
CREATE TRIGGER actions_count_insert AFTER INSERT ON public.actions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_insert();
""",
    """
CREATE TRIGGER actions_count_update AFTER UPDATE ON public.actions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_update();
""",
    """
CREATE TRIGGER actions_count_delete AFTER DELETE ON public.actions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_delete();
""",
    """
CREATE TRIGGER actions_count_truncate AFTER TRUNCATE ON public.actions
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_truncate();
""",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "chantier_action_counts",
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("actions", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chantier_id"],
            ["chantiers.id"],
            name=op.f("chantier_action_counts_chantier_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chantier_id", name=op.f("chantier_action_counts_pkey")),
    )
    # No action written from here to the commit: the triggers and the backfill see the same
    # actions (SHARE ROW EXCLUSIVE, the lock CREATE TRIGGER needs, taken first).
    op.execute("LOCK TABLE actions IN SHARE ROW EXCLUSIVE MODE")
    for statement in NEW:
        op.execute(statement)
    op.execute("SELECT chantier_action_counts_rebuild()")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TRIGGER actions_count_insert ON public.actions")
    op.execute("DROP TRIGGER actions_count_update ON public.actions")
    op.execute("DROP TRIGGER actions_count_delete ON public.actions")
    op.execute("DROP TRIGGER actions_count_truncate ON public.actions")
    op.execute("DROP FUNCTION public.chantier_action_counts_on_insert()")
    op.execute("DROP FUNCTION public.chantier_action_counts_on_update()")
    op.execute("DROP FUNCTION public.chantier_action_counts_on_delete()")
    op.execute("DROP FUNCTION public.chantier_action_counts_on_truncate()")
    op.execute("DROP FUNCTION public.chantier_action_counts_rebuild()")
    op.drop_table("chantier_action_counts")
