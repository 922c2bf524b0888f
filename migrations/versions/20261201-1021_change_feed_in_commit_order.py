"""Change feed in commit order

Revision ID: baee35d10862
Revises: e1f2a3b4c5d6
Create Date: 2026-12-01 10:21:53.101616

/v1/changes was ordered by transaction id, which PostgreSQL assigns at a transaction's first
write, not at its commit: a long batch that wrote a commitment last was listed before a PATCH
of the same commitment that had committed first. Each transaction that logs a change now gets
a position in `change_commits`, taken at COMMIT under a lock held until the commit is visible
(app/models/sql/change_commits.sql says why the feed can then neither skip nor reorder).

- Transactions already in the log get positions in transaction id order: the order the feed
  served them in, so a cursor issued before this revision still resumes where it was.
- `changes.changed` goes: a history entry's before and after now come from the representations
  of two consecutive versions, built by the resources' read models (as GET shows them).
  The downgrade recomputes the column from those consecutive versions.
- Writers wait while this runs (readers do not), so that no transaction logs a change with the
  old triggers after the backfill has read the log.

The SQL below is a frozen copy, as of this revision, of app/models/sql; `alembic check` fails
if the database ends up different from those files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "baee35d10862"
down_revision: str | None = "e1f2a3b4c5d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITERS_WAIT = (
    "LOCK TABLE changes, priorities, chantiers, actions, partners, commitments"
    " IN SHARE ROW EXCLUSIVE MODE"
)

BACKFILL = (
    """
INSERT INTO change_commits (txid, position)
SELECT txid, row_number() OVER (ORDER BY txid) FROM (SELECT DISTINCT txid FROM changes) AS logged
""",
    "SELECT setval('change_commits_position_seq', max(position)) FROM change_commits"
    " HAVING count(*) > 0",
)

CAPTURE = (
    """
CREATE OR REPLACE FUNCTION public.relance_capture_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, with the statement's transition tables: a 10,000-row upsert costs one
-- INSERT ... SELECT here. The actor is what the API set for this transaction
-- (relance.actor_name, relance.actor_role); other writers leave it null.
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
    -- A row rewritten with the same values is no change: no entry.
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, n.id, 'update', n.version,
           relance_resource_data(TG_TABLE_NAME, to_jsonb(n)), who, what
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE to_jsonb(n) IS DISTINCT FROM to_jsonb(o);
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT TG_TABLE_NAME, o.id, 'delete', o.version, who, what
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.relance_capture_chantier() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level and deferred to commit: a chantier's priority links and targets live in child
-- tables that the ORM writes after the chantier row, and at commit the snapshot includes them.
-- An update that leaves the whole representation as the last entry has it adds nothing.
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
  IF previous IS NOT DISTINCT FROM snapshot THEN
    RETURN NULL;
  END IF;
  INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
  VALUES ('chantiers', NEW.id, 'update', NEW.version, snapshot, who, what);
  RETURN NULL;
END
$$
""",
)

COMMIT_ORDER = (
    """
CREATE FUNCTION public.change_commits_register() RETURNS trigger
LANGUAGE plpgsql AS $$
-- After every INSERT into changes (one statement, once): the first statement of a transaction
-- that logged a change enters the transaction; the later ones find it and do nothing.
BEGIN
  INSERT INTO change_commits (txid)
  SELECT pg_current_xact_id()::text::bigint
  WHERE EXISTS (SELECT FROM changes WHERE txid = pg_current_xact_id()::text::bigint)
  ON CONFLICT (txid) DO NOTHING;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.change_commits_take_position() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Deferred to COMMIT. The lock is held until the commit is visible (see the top of the file).
BEGIN
  PERFORM pg_advisory_xact_lock(7245002);
  UPDATE change_commits SET position = nextval('change_commits_position_seq')
  WHERE txid = NEW.txid;
  RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER changes_register_transaction AFTER INSERT ON public.changes
  FOR EACH STATEMENT EXECUTE FUNCTION change_commits_register()
""",
    """
CREATE CONSTRAINT TRIGGER change_commits_take_position AFTER INSERT ON public.change_commits
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION change_commits_take_position()
""",
)

# --- downgrade: the definitions of revision b7c1d2e3f4a5, as the database held them ----------

OLD_DIFF = """
CREATE FUNCTION public.relance_diff(old_data jsonb, new_data jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT coalesce(jsonb_object_agg(coalesce(n.key, o.key),
                                   jsonb_build_array(o.value, n.value)), '{}'::jsonb)
  FROM jsonb_each(new_data) n FULL JOIN jsonb_each(old_data) o ON o.key = n.key
  WHERE n.value IS DISTINCT FROM o.value
    AND coalesce(n.key, o.key) NOT IN ('updated_at', 'version')
$function$
"""

# Each update's changed fields, from the entry before it: what the old triggers had written.
RESTORE_CHANGED = """
UPDATE changes AS c SET changed = relance_diff(p.previous, c.data)
FROM (SELECT id, lag(data) OVER (PARTITION BY resource, resource_id ORDER BY id) AS previous
      FROM changes) AS p
WHERE p.id = c.id AND c.op = 'update'
"""

OLD_CAPTURE = (
    """
CREATE OR REPLACE FUNCTION public.relance_capture_changes()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$
""",
    """
CREATE OR REPLACE FUNCTION public.relance_capture_chantier()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$
""",
)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(WRITERS_WAIT)
    op.create_table(
        "change_commits",
        sa.Column("txid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("txid", name=op.f("change_commits_pkey")),
        sa.UniqueConstraint("position", name=op.f("change_commits_position_key")),
    )
    op.execute("CREATE SEQUENCE change_commits_position_seq AS bigint CACHE 1")
    for statement in BACKFILL:
        op.execute(statement)
    for statement in CAPTURE:
        op.execute(statement)
    op.drop_column("changes", "changed")
    op.execute("DROP FUNCTION relance_diff(jsonb, jsonb)")
    for statement in COMMIT_ORDER:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(WRITERS_WAIT)
    op.execute("DROP TRIGGER change_commits_take_position ON change_commits")
    op.execute("DROP TRIGGER changes_register_transaction ON changes")
    op.execute("DROP FUNCTION change_commits_take_position()")
    op.execute("DROP FUNCTION change_commits_register()")
    op.add_column(
        "changes", sa.Column("changed", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.execute(OLD_DIFF)
    op.execute(RESTORE_CHANGED)
    for statement in OLD_CAPTURE:
        op.execute(statement)
    op.execute("DROP SEQUENCE change_commits_position_seq")
    op.drop_table("change_commits")
