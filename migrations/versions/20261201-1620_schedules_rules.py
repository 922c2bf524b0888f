"""Schedules: every commitment's default schedule, the single line that follows, the deferred sums

Revision ID: 5c7e2a9d4b13
Revises: fa3634a3b29d
Create Date: 2026-12-01 16:20:00.000000

Backfills one schedule line (the commitment's year, its amount) and version 1 `initial` for
every commitment that has none, each with one INSERT ... SELECT, then creates the functions and
triggers of app/models/sql/schedules.sql (frozen below): the default schedule of a new
commitment, the single line that follows its commitment's amount and year (a `revised`
version), and the check at commit that lines sum to the amount and none is before the
commitment's year (constraint triggers, deferred).

Downgrade drops the triggers and functions; the lines and versions stay (their tables belong
to the previous revision), so that a round trip keeps every row: upgrading again backfills only
the commitments written meanwhile, which have none.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c7e2a9d4b13"
down_revision: str | Sequence[str] | None = "fa3634a3b29d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEDULES = (
    """
CREATE FUNCTION public.schedule_default_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, with the statement's new rows: one line and one version per commitment.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
BEGIN
  INSERT INTO schedule_lines (commitment_id, year, amount)
  SELECT n.id, n.year, n.amount FROM new_rows n;
  INSERT INTO schedule_versions (commitment_id, number, kind, lines, created_by)
  SELECT n.id, 1, 'initial',
         jsonb_build_array(jsonb_build_object('year', n.year, 'amount', n.amount::text)), who
  FROM new_rows n;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.schedule_follow_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: the commitments whose amount or year changed and whose schedule is a single
-- line. The line takes the new amount; it moves with the year when it was in the commitment's
-- own year, or when the new year passes it. A line already set right in this transaction (a
-- request that sent amount and schedule together) is left alone, and no version is added.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
BEGIN
  WITH moved AS (
    SELECT n.id, o.year AS old_year, n.year AS new_year,
           o.amount AS old_amount, n.amount AS new_amount
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (n.amount, n.year) IS DISTINCT FROM (o.amount, o.year)
  ), single AS (
    SELECT m.*, l.year AS line_year, l.amount AS line_amount,
           CASE WHEN l.year = m.old_year OR l.year < m.new_year THEN m.new_year
                ELSE l.year END AS to_year
    FROM moved m
    CROSS JOIN LATERAL (SELECT year, amount, count(*) OVER () AS lines
                        FROM schedule_lines WHERE commitment_id = m.id) AS l
    WHERE l.lines = 1
  ), followed AS (
    UPDATE schedule_lines l SET year = s.to_year, amount = s.new_amount
    FROM single s
    WHERE l.commitment_id = s.id AND l.year = s.line_year
      AND (s.to_year, s.new_amount) IS DISTINCT FROM (s.line_year, s.line_amount)
    RETURNING l.commitment_id, l.year, l.amount, s.old_year, s.new_year, s.old_amount,
              s.new_amount
  )
  INSERT INTO schedule_versions (commitment_id, number, kind, reason, lines, created_by)
  SELECT f.commitment_id, v.last + 1, 'revised',
         'Follows the commitment: ' || concat_ws(', ',
           CASE WHEN f.old_amount <> f.new_amount
                THEN format('amount %s to %s', f.old_amount, f.new_amount) END,
           CASE WHEN f.old_year <> f.new_year
                THEN format('year %s to %s', f.old_year, f.new_year) END),
         jsonb_build_array(jsonb_build_object('year', f.year, 'amount', f.amount::text)), who
  FROM followed f
  CROSS JOIN LATERAL (SELECT max(number) AS last FROM schedule_versions
                      WHERE commitment_id = f.commitment_id) AS v
  ORDER BY f.commitment_id;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.schedule_check() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level, deferred to commit: the commitment touched by this row (a line written, or its
-- own amount or year changed) has lines that sum to its amount, none before its year. A
-- commitment deleted since (its lines with it) has nothing left to check.
DECLARE
  target uuid;
  committed numeric;
  first_year int;
  total numeric;
  earliest int;
BEGIN
  IF TG_TABLE_NAME = 'commitments' THEN
    target := NEW.id;
  ELSIF TG_OP = 'DELETE' THEN
    target := OLD.commitment_id;
  ELSE
    target := NEW.commitment_id;
  END IF;
  SELECT c.amount, c.year INTO committed, first_year FROM commitments c WHERE c.id = target;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(sum(l.amount), 0), min(l.year) INTO total, earliest
  FROM schedule_lines l WHERE l.commitment_id = target;
  IF total <> committed THEN
    RAISE EXCEPTION 'the schedule of commitment % sums to %, not to its amount %',
      target, total, committed
      USING ERRCODE = 'check_violation', TABLE = 'schedule_lines',
            CONSTRAINT = 'schedule_lines_sum_matches_amount_check';
  END IF;
  IF earliest < first_year THEN
    RAISE EXCEPTION 'the schedule of commitment % has a line in %, before its year %',
      target, earliest, first_year
      USING ERRCODE = 'check_violation', TABLE = 'schedule_lines',
            CONSTRAINT = 'schedule_lines_not_before_commitment_year_check';
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER commitments_schedule_default AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION schedule_default_on_insert()
""",
    """
CREATE TRIGGER commitments_schedule_follow AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION schedule_follow_on_update()
""",
    """
CREATE CONSTRAINT TRIGGER commitments_schedule_check AFTER UPDATE ON public.commitments
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.amount IS DISTINCT FROM NEW.amount OR OLD.year IS DISTINCT FROM NEW.year)
  EXECUTE FUNCTION schedule_check()
""",
    """
CREATE CONSTRAINT TRIGGER schedule_lines_check AFTER INSERT OR UPDATE OR DELETE
  ON public.schedule_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION schedule_check()
""",
)

# The backfill runs before the triggers exist: a million lines queue no check at commit.
BACKFILL_LINES = """
INSERT INTO schedule_lines (commitment_id, year, amount)
SELECT c.id, c.year, c.amount FROM commitments c
WHERE NOT EXISTS (SELECT 1 FROM schedule_lines l WHERE l.commitment_id = c.id)
"""
BACKFILL_VERSIONS = """
INSERT INTO schedule_versions (commitment_id, number, kind, lines, created_at)
SELECT c.id, 1, 'initial',
       jsonb_build_array(jsonb_build_object('year', c.year, 'amount', c.amount::text)),
       c.created_at
FROM commitments c
WHERE NOT EXISTS (SELECT 1 FROM schedule_versions v WHERE v.commitment_id = c.id)
"""

DROPS = (
    "DROP TRIGGER schedule_lines_check ON public.schedule_lines",
    "DROP TRIGGER commitments_schedule_check ON public.commitments",
    "DROP TRIGGER commitments_schedule_follow ON public.commitments",
    "DROP TRIGGER commitments_schedule_default ON public.commitments",
    "DROP FUNCTION public.schedule_check()",
    "DROP FUNCTION public.schedule_follow_on_update()",
    "DROP FUNCTION public.schedule_default_on_insert()",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    # No commitment written while the backfill runs goes without its schedule.
    op.execute("LOCK TABLE commitments IN SHARE MODE")
    op.execute(BACKFILL_LINES)
    op.execute(BACKFILL_VERSIONS)
    for statement in SCHEDULES:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for statement in DROPS:
        op.execute(statement)
