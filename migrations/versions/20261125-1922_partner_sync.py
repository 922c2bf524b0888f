"""Partner sync: change log (triggers), idempotency keys

Revision ID: b7c1d2e3f4a5
Revises: c8d2e3f4a5b6
Create Date: 2026-11-25 19:10:00

Every create, update and delete of a resource is captured by database triggers into the
append-only `changes` table, so that no write path (API, CLI, psql) can bypass the change feed
or the history. The writing transaction's id (`pg_current_xact_id()`) orders the feed by commit.

- priorities, actions, partners, commitments: statement-level AFTER triggers reading the
  transition tables, so a 10,000-row upsert costs one INSERT … SELECT into `changes`.
- chantiers: a row-level constraint trigger DEFERRED to commit, because a chantier's priority
  links and yearly targets live in child tables the ORM writes after the chantier row; at commit
  the snapshot includes them. A change of links or targets bumps the chantier's version.
- The actor comes from the transaction-local settings `relance.actor_name` and
  `relance.actor_role`, set by the API after authenticating the key.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7c1d2e3f4a5"
down_revision: str | None = "c8d2e3f4a5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENT_TABLES = ("priorities", "actions", "partners", "commitments")

FUNCTIONS = """
CREATE FUNCTION relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    ELSE row_data END
$$;

CREATE FUNCTION relance_diff(old_data jsonb, new_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(coalesce(n.key, o.key),
                                   jsonb_build_array(o.value, n.value)), '{}'::jsonb)
  FROM jsonb_each(new_data) n FULL JOIN jsonb_each(old_data) o ON o.key = n.key
  WHERE n.value IS DISTINCT FROM o.value
    AND coalesce(n.key, o.key) NOT IN ('updated_at', 'version')
$$;

CREATE FUNCTION relance_capture_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, n.id, 'create', n.version,
           relance_resource_data(TG_TABLE_NAME, to_jsonb(n)), who, what
    FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO changes
      (resource, resource_id, op, version, data, changed, actor_name, actor_role)
    SELECT TG_TABLE_NAME, s.id, 'update', s.version, s.new_data,
           relance_diff(s.old_data, s.new_data), who, what
    FROM (SELECT n.id, n.version,
                 relance_resource_data(TG_TABLE_NAME, to_jsonb(n)) AS new_data,
                 relance_resource_data(TG_TABLE_NAME, to_jsonb(o)) AS old_data
          FROM new_rows n JOIN old_rows o ON o.id = n.id) s
    WHERE s.new_data IS DISTINCT FROM s.old_data;
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT TG_TABLE_NAME, o.id, 'delete', o.version, who, what FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION relance_chantier_data(chantier chantiers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(chantier) || jsonb_build_object(
    'priority_ids', coalesce((SELECT jsonb_agg(p.priority_id ORDER BY p.priority_id)
                              FROM chantier_priorities p WHERE p.chantier_id = chantier.id),
                             '[]'::jsonb),
    'targets', coalesce((SELECT jsonb_agg(jsonb_build_object('year', t.year,
                                                             'amount', t.amount::text)
                                          ORDER BY t.year)
                         FROM chantier_targets t WHERE t.chantier_id = chantier.id),
                        '[]'::jsonb))
$$;

CREATE FUNCTION relance_capture_chantier() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
  snapshot jsonb;
  previous jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    VALUES ('chantiers', OLD.id, 'delete', OLD.version, who, what);
    RETURN NULL;
  END IF;
  snapshot := relance_chantier_data(NEW);
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    VALUES ('chantiers', NEW.id, 'create', NEW.version, snapshot, who, what);
    RETURN NULL;
  END IF;
  SELECT c.data INTO previous FROM changes c
  WHERE c.resource_id = NEW.id AND c.op <> 'delete' ORDER BY c.id DESC LIMIT 1;
  previous := coalesce(previous, to_jsonb(OLD));
  IF previous IS NOT DISTINCT FROM snapshot THEN
    RETURN NULL;
  END IF;
  INSERT INTO changes (resource, resource_id, op, version, data, changed, actor_name, actor_role)
  VALUES ('chantiers', NEW.id, 'update', NEW.version, snapshot,
          relance_diff(previous, snapshot), who, what);
  RETURN NULL;
END
$$;
"""


def _statement_triggers(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_capture_insert AFTER INSERT ON {table}
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER {table}_capture_update AFTER UPDATE ON {table}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER {table}_capture_delete AFTER DELETE ON {table}
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
"""


CHANTIER_TRIGGERS = """
CREATE CONSTRAINT TRIGGER chantiers_capture_insert AFTER INSERT ON chantiers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION relance_capture_chantier();
CREATE CONSTRAINT TRIGGER chantiers_capture_update AFTER UPDATE ON chantiers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION relance_capture_chantier();
CREATE CONSTRAINT TRIGGER chantiers_capture_delete AFTER DELETE ON chantiers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION relance_capture_chantier();
"""

# Rows written before this revision enter the feed as creations, so that a partner syncing
# from the start of the feed rebuilds the whole current state.
BACKFILL = """
INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
SELECT 'chantiers', c.id, 'create', c.version, relance_chantier_data(c), 'migration', 'system'
FROM chantiers c;
""" + "".join(
    f"""
INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
SELECT '{table}', r.id, 'create', r.version, relance_resource_data('{table}', to_jsonb(r)),
       'migration', 'system'
FROM {table} r;
"""
    for table in ("priorities", "partners", "actions", "commitments")
)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in re.split(r";\s*\n(?=CREATE|INSERT)", script) if part.strip()]


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
            nullable=False,
        ),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("op", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("changed", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "op IN ('create', 'update', 'delete')", name=op.f("changes_op_known_check")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("changes_pkey")),
    )
    op.create_index("ix_changes_txid_id", "changes", ["txid", "id"], unique=False)
    op.create_index("ix_changes_resource_id_id", "changes", ["resource_id", "id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["api_keys.id"],
            name=op.f("idempotency_keys_owner_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "key", name=op.f("idempotency_keys_pkey")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )
    # asyncpg runs one statement per call: split the scripts on the blank lines between them.
    for script in (
        FUNCTIONS,
        *map(_statement_triggers, STATEMENT_TABLES),
        CHANTIER_TRIGGERS,
        BACKFILL,
    ):
        for statement in _statements(script):
            op.execute(statement)


def downgrade() -> None:
    for table in (*STATEMENT_TABLES, "chantiers"):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_capture_{event} ON {table}")
    op.execute("DROP FUNCTION relance_capture_chantier()")
    op.execute("DROP FUNCTION relance_chantier_data(chantiers)")
    op.execute("DROP FUNCTION relance_capture_changes()")
    op.execute("DROP FUNCTION relance_diff(jsonb, jsonb)")
    op.execute("DROP FUNCTION relance_resource_data(text, jsonb)")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_changes_resource_id_id", table_name="changes")
    op.drop_index("ix_changes_txid_id", table_name="changes")
    op.drop_table("changes")
