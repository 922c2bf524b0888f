"""Payment batches and the cash-flow cube: trigger plans that hold, the month axis indexed

Revision ID: a23b6330ec46
Revises: 5c1a9e7d3b20
Create Date: 2026-12-01 19:14:31.789031

PostgreSQL fixes a transition table's estimated size when a session first plans a trigger's
statement, and keeps it in the plan it caches: a batch upsert's empty UPDATE half (or any small
first statement) left plans that nest-looped 1,000 rows against 1,000, so that a 10,000-payment
batch spent seconds pairing each commitment's old and new rows. The trigger functions no longer
join two transition tables (the change capture takes the set difference of old and new rows,
the schedule's follow-up pairs them by a GROUP BY), the commitment roll-ups' lookups are fenced
by OFFSET 0 like the cash-flow ones, the payments' derived total skips the empty half of an
upsert, the cash-flow roll-up sums a batch by commitment and month before its lookups, and
relance_resource_data is STABLE (as the jsonb_build_object it calls), so that it is inlined
instead of called once per row. Same figures, same feed entries; no data moves.
Downgrade restores the previous texts.

A (status, year, month) index on cashflow_rollups, covering the columns the cash-flow cube
reads, serves the month axis under a year filter (the monthly rows of the years shown, instead
of a scan of the whole table).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a23b6330ec46"
down_revision: str | Sequence[str] | None = "5c1a9e7d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ = [
    "programme_id",
    "chantier_id",
    "partner_id",
    "instrument",
    "scheduled_sum",
    "paid_sum",
    "line_count",
]

# app/models/sql as this revision leaves it (NEW_FUNCTIONS) and as it found it (OLD_FUNCTIONS).
NEW_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION public.relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    WHEN resource = 'payments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount')
    ELSE row_data END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.relance_capture_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, with the statement's transition tables: a 10,000-row upsert costs one
-- INSERT ... SELECT here. The actor is what the API set for this transaction
-- (relance.actor_name, relance.actor_role); other writers leave it null. Each row's JSON is
-- made once, in a subquery, so that relance_resource_data gets a plain column and is inlined
-- (with the expression itself as its argument it would be called once per row).
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, n.id, 'create', n.version,
           relance_resource_data(TG_TABLE_NAME, n.row_data), who, what
    FROM (SELECT n.id, n.version, to_jsonb(n) AS row_data FROM new_rows n OFFSET 0) AS n;
  ELSIF TG_OP = 'UPDATE' THEN
    -- A row rewritten with the same values is no change: no entry. The new rows that no old
    -- row equals (the id is in the row): a set difference, hashed or sorted, never a join of
    -- the two transition tables, which a plan cached for a small statement (PostgreSQL fixes
    -- a transition table's estimated size when it first plans a statement of the session)
    -- would run as a nested loop, 1,000 rows against 1,000.
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, (d.row_data ->> 'id')::uuid, 'update',
           (d.row_data ->> 'version')::int, relance_resource_data(TG_TABLE_NAME, d.row_data),
           who, what
    FROM (SELECT to_jsonb(n) AS row_data FROM new_rows n
          EXCEPT ALL
          SELECT to_jsonb(o) FROM old_rows o) AS d;
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT TG_TABLE_NAME, o.id, 'delete', o.version, who, what
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS added
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The new rows count in, the old rows count out; cells whose delta is nil are left alone, and
-- cells that no commitment feeds any more are deleted.
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               c.amount, c.disbursed_amount, 1 AS commitments
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a
        UNION ALL
        SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               -c.amount, -c.disbursed_amount, -1
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS delta
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id OFFSET 0) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         -sum(amount), -sum(disbursed_amount), -count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS removed
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id OFFSET 0) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.payments_derive_disbursed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: one UPDATE of the commitments a statement touched, whatever its size. The
-- delta is added to the row as it stands once locked, never recomputed from a snapshot, so
-- two concurrent payments both count. A total crossing a bound is refused with the name of
-- the bound crossed (app/errors/database.py maps it to /amount).
DECLARE
  moved numeric := 0;
BEGIN
  IF current_setting('relance.reconciling', true) = 'on' THEN
    RETURN NULL;  -- recorded for a total the commitment's writer set: already counted
  END IF;
  IF TG_OP = 'DELETE' THEN
    PERFORM FROM old_rows LIMIT 1;
  ELSE
    PERFORM FROM new_rows LIMIT 1;
  END IF;
  IF NOT FOUND THEN
    -- The other half of an upsert (its UPDATE when every row was new, or unchanged): nothing
    -- moved, and an UPDATE of no commitment would still fire the commitments' triggers.
    RETURN NULL;
  END IF;
  BEGIN
    PERFORM set_config('relance.reconciling', 'on', true);
    IF TG_OP = 'INSERT' THEN
      SELECT coalesce(sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END), 0)
      INTO moved FROM new_rows n;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT n.commitment_id,
                   sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END) AS delta
            FROM new_rows n GROUP BY n.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    ELSIF TG_OP = 'UPDATE' THEN
      SELECT coalesce(sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END), 0)
             - (SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN -o.amount
                                                ELSE o.amount END), 0) FROM old_rows o)
      INTO moved FROM new_rows n;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT commitment_id, sum(delta) AS delta
            FROM (SELECT n.commitment_id,
                         CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END AS delta
                  FROM new_rows n
                  UNION ALL
                  SELECT o.commitment_id,
                         CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END
                  FROM old_rows o) AS both_sides
            GROUP BY commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    ELSE
      SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END), 0)
      INTO moved FROM old_rows o;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT o.commitment_id,
                   sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END) AS delta
            FROM old_rows o GROUP BY o.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    END IF;
    PERFORM set_config('relance.reconciling', '', true);
  EXCEPTION WHEN check_violation THEN
    IF moved > 0 THEN
      RAISE EXCEPTION 'a payment would bring its commitment''s total paid above its amount'
        USING ERRCODE = 'check_violation', TABLE = 'payments',
              CONSTRAINT = 'payments_total_above_amount_check';
    END IF;
    RAISE EXCEPTION 'a payment would bring its commitment''s total paid below zero'
      USING ERRCODE = 'check_violation', TABLE = 'payments',
            CONSTRAINT = 'payments_total_below_zero_check';
  END;
  -- After the UPDATE above, in a snapshot of its own: a commitment whose total moved is locked,
  -- so a concurrent move of its year has committed (and is seen) or waits for this transaction.
  -- An update may move no total (a new date only): it locks its commitments FOR SHARE.
  IF TG_OP = 'INSERT' THEN
    PERFORM FROM new_rows n JOIN commitments c ON c.id = n.commitment_id
    WHERE n.paid_on < make_date(c.year, 1, 1);
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM FROM new_rows n JOIN commitments c ON c.id = n.commitment_id
    WHERE n.paid_on < make_date(c.year, 1, 1)
    FOR SHARE OF c;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF FOUND THEN
      RAISE EXCEPTION 'a payment is dated before its commitment''s year'
        USING ERRCODE = 'check_violation', TABLE = 'payments',
              CONSTRAINT = 'payments_paid_on_in_commitment_years_check';
    END IF;
  END IF;
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.schedule_follow_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: the commitments whose amount or year changed and whose schedule is a single
-- line. The line takes the new amount; it moves with the year when it was in the commitment's
-- own year, or when the new year passes it. A line already set right in this transaction (a
-- request that sent amount and schedule together) is left alone, and no version is added.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
BEGIN
  -- Old and new rows paired by a GROUP BY, never by a join of the two transition tables (a
  -- plan cached for a small statement would nest-loop them: see change_log.sql). A payment
  -- moves disbursed_amount only: no commitment is moved, no schedule line read.
  WITH moved AS (
    SELECT id, min(year) FILTER (WHERE is_old) AS old_year,
           min(year) FILTER (WHERE NOT is_old) AS new_year,
           min(amount) FILTER (WHERE is_old) AS old_amount,
           min(amount) FILTER (WHERE NOT is_old) AS new_amount
    FROM (SELECT id, year, amount, false AS is_old FROM new_rows
          UNION ALL
          SELECT id, year, amount, true FROM old_rows) AS sides
    GROUP BY id
    HAVING (min(amount) FILTER (WHERE NOT is_old), min(year) FILTER (WHERE NOT is_old))
      IS DISTINCT FROM (min(amount) FILTER (WHERE is_old), min(year) FILTER (WHERE is_old))
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
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_on_payment_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Each payment counts twice: in its year (month 0) and in its month. Summed by commitment and
-- month first: a batch of many payments per commitment looks each commitment up once a month.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, p.year, m.month, c.status,
         c.instrument, 0, sum(p.paid), 0, sum(p.payments)
  FROM (SELECT commitment_id, extract(year FROM paid_on)::int AS year,
               extract(month FROM paid_on)::int AS month,
               sum(CASE WHEN kind = 'reversal' THEN -amount ELSE amount END) AS paid,
               count(*) AS payments
        FROM new_rows GROUP BY 1, 2, 3) AS p
  CROSS JOIN LATERAL (VALUES (0), (p.month)) AS m (month)
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = p.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                payment_count = r.payment_count + EXCLUDED.payment_count;
  RETURN NULL;
END
$$;
""",
)

OLD_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION public.relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    WHEN resource = 'payments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount')
    ELSE row_data END
$$;
""",
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
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id) AS a) AS added
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The new rows count in, the old rows count out; cells whose delta is nil are left alone, and
-- cells that no commitment feeds any more are deleted.
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               c.amount, c.disbursed_amount, 1 AS commitments
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id) AS a
        UNION ALL
        SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               -c.amount, -c.disbursed_amount, -1
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id) AS a) AS delta
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         -sum(amount), -sum(disbursed_amount), -count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id) AS a) AS removed
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.payments_derive_disbursed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: one UPDATE of the commitments a statement touched, whatever its size. The
-- delta is added to the row as it stands once locked, never recomputed from a snapshot, so
-- two concurrent payments both count. A total crossing a bound is refused with the name of
-- the bound crossed (app/errors/database.py maps it to /amount).
DECLARE
  moved numeric := 0;
BEGIN
  IF current_setting('relance.reconciling', true) = 'on' THEN
    RETURN NULL;  -- recorded for a total the commitment's writer set: already counted
  END IF;
  BEGIN
    PERFORM set_config('relance.reconciling', 'on', true);
    IF TG_OP = 'INSERT' THEN
      SELECT coalesce(sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END), 0)
      INTO moved FROM new_rows n;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT n.commitment_id,
                   sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END) AS delta
            FROM new_rows n GROUP BY n.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    ELSIF TG_OP = 'UPDATE' THEN
      SELECT coalesce(sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END), 0)
             - (SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN -o.amount
                                                ELSE o.amount END), 0) FROM old_rows o)
      INTO moved FROM new_rows n;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT commitment_id, sum(delta) AS delta
            FROM (SELECT n.commitment_id,
                         CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END AS delta
                  FROM new_rows n
                  UNION ALL
                  SELECT o.commitment_id,
                         CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END
                  FROM old_rows o) AS both_sides
            GROUP BY commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    ELSE
      SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END), 0)
      INTO moved FROM old_rows o;
      UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT o.commitment_id,
                   sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END) AS delta
            FROM old_rows o GROUP BY o.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0;
    END IF;
    PERFORM set_config('relance.reconciling', '', true);
  EXCEPTION WHEN check_violation THEN
    IF moved > 0 THEN
      RAISE EXCEPTION 'a payment would bring its commitment''s total paid above its amount'
        USING ERRCODE = 'check_violation', TABLE = 'payments',
              CONSTRAINT = 'payments_total_above_amount_check';
    END IF;
    RAISE EXCEPTION 'a payment would bring its commitment''s total paid below zero'
      USING ERRCODE = 'check_violation', TABLE = 'payments',
            CONSTRAINT = 'payments_total_below_zero_check';
  END;
  -- After the UPDATE above, in a snapshot of its own: a commitment whose total moved is locked,
  -- so a concurrent move of its year has committed (and is seen) or waits for this transaction.
  -- An update may move no total (a new date only): it locks its commitments FOR SHARE.
  IF TG_OP = 'INSERT' THEN
    PERFORM FROM new_rows n JOIN commitments c ON c.id = n.commitment_id
    WHERE n.paid_on < make_date(c.year, 1, 1);
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM FROM new_rows n JOIN commitments c ON c.id = n.commitment_id
    WHERE n.paid_on < make_date(c.year, 1, 1)
    FOR SHARE OF c;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF FOUND THEN
      RAISE EXCEPTION 'a payment is dated before its commitment''s year'
        USING ERRCODE = 'check_violation', TABLE = 'payments',
              CONSTRAINT = 'payments_paid_on_in_commitment_years_check';
    END IF;
  END IF;
  RETURN NULL;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.schedule_follow_on_update() RETURNS trigger
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
$$;
""",
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_on_payment_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Each payment counts twice: in its year (month 0) and in its month.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id,
         extract(year FROM p.paid_on)::int, m.month, c.status, c.instrument,
         0, sum(CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END), 0, count(*)
  FROM new_rows p
  CROSS JOIN LATERAL (VALUES (0), (extract(month FROM p.paid_on)::int)) AS m (month)
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = p.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                payment_count = r.payment_count + EXCLUDED.payment_count;
  RETURN NULL;
END
$$;
""",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    for statement in NEW_FUNCTIONS:
        op.execute(statement)
    # The month axis under a year filter: the monthly rows of the years shown, index-only
    # (app/models/cashflow_rollup.py).
    op.create_index(
        "ix_cashflow_rollups_status_year_month",
        "cashflow_rollups",
        ["status", "year", "month"],
        postgresql_include=READ,
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_index("ix_cashflow_rollups_status_year_month", table_name="cashflow_rollups")
    for statement in OLD_FUNCTIONS:
        op.execute(statement)
