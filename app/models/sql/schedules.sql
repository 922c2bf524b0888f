-- Schedules: every commitment has a current schedule (schedule_lines, its CP year by year) and
-- the versions it went through (schedule_versions), whatever writes it (the API, the partner
-- sync's bulk upsert, the demo, psql). DESIGN.md, "Money over time"; README, "Schedules".
--
-- A new commitment gets its default schedule: one line (its year, its amount) and version 1
-- `initial`, by a statement-level trigger (a 10,000-commitment upsert is two INSERT ... SELECT).
-- A commitment whose schedule is a single line takes its amount and year changes along, and a
-- `revised` version records why. Σ lines = amount and no line before the commitment's year are
-- checked at commit (a deferred constraint trigger), so that a transaction may change the
-- amount and the schedule one after the other. Lines written by these triggers are right by
-- construction: the check is queued only for writes made outside any trigger
-- (pg_trigger_depth() = 0), which spares the 10,000 checks of a partner's batch.

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
$$;

CREATE FUNCTION public.schedule_follow_on_update() RETURNS trigger
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
$$;

CREATE TRIGGER commitments_schedule_default AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION schedule_default_on_insert();
CREATE TRIGGER commitments_schedule_follow AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION schedule_follow_on_update();
CREATE CONSTRAINT TRIGGER commitments_schedule_check AFTER UPDATE ON public.commitments
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.amount IS DISTINCT FROM NEW.amount OR OLD.year IS DISTINCT FROM NEW.year)
  EXECUTE FUNCTION schedule_check();
CREATE CONSTRAINT TRIGGER schedule_lines_check AFTER INSERT OR UPDATE OR DELETE
  ON public.schedule_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION schedule_check();
