"""Ownership: actions, commitments and chantiers' priority links carry the programme

Revision ID: 7a3e5b9c1d24
Revises: 5c2f9a1d7e40
Create Date: 2026-12-01 12:00:00.000000

`programme_id` on actions, commitments and chantier_priorities: a copy of the programme of
what they hang from, filled by triggers (app/models/sql/programme_ownership.sql, frozen below)
and held equal to it by composite foreign keys, (chantier_id, programme_id) -> chantiers and
(action_id, programme_id) -> actions ON UPDATE CASCADE; a chantier's link to a priority of
another programme is refused by (priority_id, programme_id) -> priorities. Existing rows take
the only programme as a constant default (no rewrite, no change-log entry, roll-ups untouched);
with several programmes they are filled by one UPDATE per table, triggers disabled. History
entries of actions and commitments gain their programme_id; downgrade removes it all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3e5b9c1d24"
down_revision: str | Sequence[str] | None = "5c2f9a1d7e40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = (
    """
CREATE FUNCTION public.relance_programme_from_chantier() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.programme_id := coalesce(
    (SELECT c.programme_id FROM chantiers c WHERE c.id = NEW.chantier_id), NEW.programme_id);
  RETURN NEW;
END
$$
""",
    """
CREATE FUNCTION public.relance_programme_from_action() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.programme_id := coalesce(
    (SELECT a.programme_id FROM actions a WHERE a.id = NEW.action_id), NEW.programme_id);
  RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER actions_programme BEFORE INSERT OR UPDATE OF chantier_id ON public.actions
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier()
""",
    """
CREATE TRIGGER chantier_priorities_programme BEFORE INSERT OR UPDATE OF chantier_id
  ON public.chantier_priorities
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier()
""",
    """
CREATE TRIGGER commitments_programme BEFORE INSERT OR UPDATE OF action_id ON public.commitments
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_action()
""",
)
TRIGGERS = (
    ("actions_programme", "actions"),
    ("chantier_priorities_programme", "chantier_priorities"),
    ("commitments_programme", "commitments"),
)
FUNCTIONS = ("relance_programme_from_chantier", "relance_programme_from_action")
# (table, its source and the join that finds its programme)
COPIES = (
    ("actions", "chantiers s WHERE s.id = t.chantier_id"),
    ("chantier_priorities", "chantiers s WHERE s.id = t.chantier_id"),
    ("commitments", "actions s WHERE s.id = t.action_id"),
)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for table in ("priorities", "chantiers"):
        op.create_unique_constraint(
            op.f(f"{table}_id_programme_id_key"), table, ["id", "programme_id"]
        )
    bind = op.get_bind()
    programmes = list(bind.execute(sa.text("SELECT id FROM programmes LIMIT 2")).scalars())
    for table, source in COPIES:
        if table == "commitments":
            op.create_unique_constraint(
                op.f("actions_id_programme_id_key"), "actions", ["id", "programme_id"]
            )
        if len(programmes) == 1:
            # A constant default: existing rows take it without a rewrite or an UPDATE.
            op.add_column(
                table,
                sa.Column(
                    "programme_id", sa.Uuid(), server_default=str(programmes[0]), nullable=False
                ),
            )
            op.alter_column(table, "programme_id", server_default=None)
        else:
            op.add_column(table, sa.Column("programme_id", sa.Uuid(), nullable=True))
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            op.execute(f"UPDATE {table} t SET programme_id = s.programme_id FROM {source}")
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            op.alter_column(table, "programme_id", nullable=False)
    op.create_index(op.f("ix_actions_programme_id"), "actions", ["programme_id"])
    op.create_index(
        "ix_commitments_programme_id_created_at",
        "commitments",
        ["programme_id", "created_at", "id"],
    )
    op.create_foreign_key(
        op.f("actions_chantier_id_programme_id_fkey"),
        "actions",
        "chantiers",
        ["chantier_id", "programme_id"],
        ["id", "programme_id"],
        onupdate="CASCADE",
    )
    op.create_foreign_key(
        op.f("commitments_action_id_programme_id_fkey"),
        "commitments",
        "actions",
        ["action_id", "programme_id"],
        ["id", "programme_id"],
        onupdate="CASCADE",
    )
    op.create_foreign_key(
        op.f("chantier_priorities_chantier_id_programme_id_fkey"),
        "chantier_priorities",
        "chantiers",
        ["chantier_id", "programme_id"],
        ["id", "programme_id"],
        onupdate="CASCADE",
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("chantier_priorities_priority_id_programme_id_fkey"),
        "chantier_priorities",
        "priorities",
        ["priority_id", "programme_id"],
        ["id", "programme_id"],
        ondelete="RESTRICT",
    )
    for statement in STATEMENTS:
        op.execute(statement)
    # Their history shows the programme they belong to, as GET now does.
    for resource in ("actions", "commitments"):
        op.execute(
            "UPDATE changes c SET data = c.data || jsonb_build_object('programme_id', coalesce("
            f"(SELECT r.programme_id FROM {resource} r WHERE r.id = c.resource_id),"
            " (SELECT p.id FROM programmes p ORDER BY p.created_at, p.id LIMIT 1)))"
            f" WHERE c.resource = '{resource}' AND c.data IS NOT NULL"
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON public.{table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION public.{function}()")
    op.execute(
        "UPDATE changes SET data = data - 'programme_id'"
        " WHERE resource IN ('actions', 'commitments') AND data IS NOT NULL"
    )
    for name, table in (
        ("chantier_priorities_priority_id_programme_id_fkey", "chantier_priorities"),
        ("chantier_priorities_chantier_id_programme_id_fkey", "chantier_priorities"),
        ("commitments_action_id_programme_id_fkey", "commitments"),
        ("actions_chantier_id_programme_id_fkey", "actions"),
    ):
        op.drop_constraint(op.f(name), table, type_="foreignkey")
    op.drop_index("ix_commitments_programme_id_created_at", table_name="commitments")
    op.drop_index(op.f("ix_actions_programme_id"), table_name="actions")
    for table in ("actions", "chantiers", "priorities"):
        op.drop_constraint(op.f(f"{table}_id_programme_id_key"), table, type_="unique")
    for table in ("commitments", "chantier_priorities", "actions"):
        op.drop_column(table, "programme_id")
