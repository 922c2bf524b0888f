-- Cash-flow roll-ups: per (programme, chantier, partner, year, month, status, instrument), the
-- sums of schedule lines (month 0 only: a schedule is yearly) and of payments' signed
-- contributions (disbursement +amount, reversal -amount, adjustment its own sign), with the
-- number of lines and payments; month 0 holds the whole year's payments, months 1-12 each
-- month's. Kept exact by these triggers in the writing transaction (README, "How the
-- aggregates stay fast and exact"), as commitment_rollups.sql does for commitments.
--
-- Lines and payments count at their commitment's grain as it stands (its partner, status,
-- instrument, and its action's chantier and programme), read by lateral lookups. A commitment
-- whose grain changes moves its figures itself, in a BEFORE row trigger: before the row
-- changes, so that whatever then rewrites its lines or payments (a one-line schedule following
-- the amount, a partner cascading onto payments) books at the new grain. A commitment being
-- deleted stages its figures' removal before its lines and payments go by cascade (their own
-- delete triggers then find no commitment and count nothing twice), and the statement books
-- the removals, summed by cell, once it is done. Cells that no line and no
-- payment feed any more are deleted (a partial index finds them).
--
-- The lookups are lateral subqueries fenced by OFFSET 0: a lookup by primary key per row of the
-- transition table, whatever its size. Unfenced, the planner flattens them into joins, and the
-- plan cached for a statement of 10,000 rows (hashing commitments) then served every one-row
-- statement of the session: 72 single-row payments a second at 1M commitments instead of
-- thousands.

CREATE FUNCTION public.cashflow_rollups_on_line_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, l.year, 0, c.status, c.instrument,
         sum(l.amount), 0, count(*), 0
  FROM new_rows l
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = l.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                line_count = r.line_count + EXCLUDED.line_count;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_line_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The old rows count out, the new ones in.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, d.year, 0, c.status, c.instrument,
         sum(d.amount), 0, sum(d.lines), 0
  FROM (SELECT commitment_id, year, amount, 1 AS lines FROM new_rows
        UNION ALL
        SELECT commitment_id, year, -amount, -1 FROM old_rows) AS d
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = d.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.amount) <> 0 OR sum(d.lines) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                line_count = r.line_count + EXCLUDED.line_count;

  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_line_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The old rows count out.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, d.year, 0, c.status, c.instrument,
         sum(d.amount), 0, sum(d.lines), 0
  FROM (SELECT commitment_id, year, -amount AS amount, -1 AS lines FROM old_rows) AS d
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = d.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.amount) <> 0 OR sum(d.lines) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                line_count = r.line_count + EXCLUDED.line_count;

  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_payment_insert() RETURNS trigger
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

CREATE FUNCTION public.cashflow_rollups_on_payment_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The old rows count out, the new ones in.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id,
         extract(year FROM d.paid_on)::int, m.month, c.status, c.instrument,
         0, sum(d.paid), 0, sum(d.payments)
  FROM (SELECT commitment_id, paid_on,
               CASE WHEN kind = 'reversal' THEN -amount ELSE amount END AS paid, 1 AS payments
        FROM new_rows
        UNION ALL
        SELECT commitment_id, paid_on,
               CASE WHEN kind = 'reversal' THEN amount ELSE -amount END, -1
        FROM old_rows) AS d
  CROSS JOIN LATERAL (VALUES (0), (extract(month FROM d.paid_on)::int)) AS m (month)
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = d.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.paid) <> 0 OR sum(d.payments) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                payment_count = r.payment_count + EXCLUDED.payment_count;

  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_payment_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The old rows count out.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id,
         extract(year FROM d.paid_on)::int, m.month, c.status, c.instrument,
         0, sum(d.paid), 0, sum(d.payments)
  FROM (SELECT commitment_id, paid_on,
               CASE WHEN kind = 'reversal' THEN amount ELSE -amount END AS paid, -1 AS payments
        FROM old_rows) AS d
  CROSS JOIN LATERAL (VALUES (0), (extract(month FROM d.paid_on)::int)) AS m (month)
  CROSS JOIN LATERAL (SELECT partner_id, status, instrument, action_id FROM commitments
                      WHERE id = d.commitment_id OFFSET 0) AS c
  CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                      WHERE id = c.action_id OFFSET 0) AS a
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.paid) <> 0 OR sum(d.payments) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                payment_count = r.payment_count + EXCLUDED.payment_count;

  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'schedule_lines' THEN
    UPDATE cashflow_rollups SET scheduled_sum = 0, line_count = 0 WHERE line_count <> 0;
  ELSE
    UPDATE cashflow_rollups SET paid_sum = 0, payment_count = 0 WHERE payment_count <> 0;
  END IF;
  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_commitment_figures(commitment uuid)
RETURNS TABLE (year integer, month integer, scheduled numeric, paid numeric, lines integer,
               payments integer)
LANGUAGE sql STABLE AS $$
  -- One commitment's lines (month 0) and signed payments (month 0 and their month), as the
  -- roll-up counts them: what moves when its grain changes, or goes when it is deleted.
  SELECT year, 0, amount, 0, 1, 0 FROM schedule_lines WHERE commitment_id = commitment
  UNION ALL
  SELECT extract(year FROM p.paid_on)::int, m.month, 0,
         CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END, 0, 1
  FROM payments p
  CROSS JOIN LATERAL (VALUES (0), (extract(month FROM p.paid_on)::int)) AS m (month)
  WHERE p.commitment_id = commitment
$$;

CREATE FUNCTION public.cashflow_rollups_move(
  commitment uuid, direction integer, programme uuid, chantier uuid, partner uuid,
  status_ text, instrument_ text
) RETURNS void
LANGUAGE plpgsql AS $$
-- Add (direction 1) or take out (direction -1) a commitment's lines and payments at the
-- given grain.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT programme, chantier, partner, f.year, f.month, status_, instrument_,
         direction * sum(f.scheduled), direction * sum(f.paid), direction * sum(f.lines),
         direction * sum(f.payments)
  FROM cashflow_commitment_figures(commitment) AS f
  GROUP BY f.year, f.month
  ORDER BY f.year, f.month
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                line_count = r.line_count + EXCLUDED.line_count,
                payment_count = r.payment_count + EXCLUDED.payment_count;
  IF direction < 0 THEN
    DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  END IF;
END
$$;

CREATE FUNCTION public.cashflow_rollups_stage_removal(
  commitment uuid, programme uuid, chantier uuid, partner uuid, status_ text, instrument_ text
) RETURNS void
LANGUAGE plpgsql AS $$
-- A commitment being deleted: stage the taking out of its lines and payments, which
-- cashflow_rollups_apply_removals books, summed by cell, when the statement ends. Booked row by
-- row (cashflow_rollups_move), a statement deleting 10,000 commitments of one cell updated it
-- 10,000 times, each lookup walking past the row versions the earlier ones left: 8 s.
BEGIN
  INSERT INTO cashflow_rollup_removals
    (xact, programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT txid_current(), programme, chantier, partner, f.year, f.month, status_, instrument_,
         -sum(f.scheduled), -sum(f.paid), -sum(f.lines), -sum(f.payments)
  FROM cashflow_commitment_figures(commitment) AS f
  GROUP BY f.year, f.month;
END
$$;

CREATE FUNCTION public.cashflow_rollups_apply_removals() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, after a DELETE of commitments and its cascades (whose lines and payments
-- find no commitment and count nothing): the removals the row trigger staged in this
-- transaction, summed by cell, booked once each, in one lock order. Nothing else books in
-- such a statement, so a cell whose counts fall to 0 has sums of 0 and goes.
BEGIN
  WITH staged AS (
    DELETE FROM cashflow_rollup_removals WHERE xact = txid_current() RETURNING *
  )
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT programme_id, chantier_id, partner_id, year, month, status, instrument,
         sum(scheduled_sum), sum(paid_sum), sum(line_count), sum(payment_count)
  FROM staged
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                line_count = r.line_count + EXCLUDED.line_count,
                payment_count = r.payment_count + EXCLUDED.payment_count;
  IF FOUND THEN
    DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_commitment_regrain() RETURNS trigger
LANGUAGE plpgsql AS $$
-- BEFORE UPDATE (partner, status, instrument or action changed) and BEFORE DELETE, per row:
-- the commitment's figures leave its old grain (and, on update, join the new one) while its
-- lines and payments are still as they were; a deletion's are staged and booked by the
-- statement (cashflow_rollups_apply_removals). An update's are booked at once: its statement
-- may rewrite lines and payments too, which book as they go.
DECLARE
  old_place record;
  new_place record;
BEGIN
  SELECT programme_id, chantier_id INTO old_place FROM actions WHERE id = OLD.action_id;
  IF TG_OP = 'DELETE' THEN
    PERFORM cashflow_rollups_stage_removal(OLD.id, old_place.programme_id,
                                           old_place.chantier_id, OLD.partner_id, OLD.status,
                                           OLD.instrument);
    RETURN OLD;
  END IF;
  PERFORM cashflow_rollups_move(OLD.id, -1, old_place.programme_id, old_place.chantier_id,
                                OLD.partner_id, OLD.status, OLD.instrument);
  SELECT programme_id, chantier_id INTO new_place FROM actions WHERE id = NEW.action_id;
  PERFORM cashflow_rollups_move(NEW.id, 1, new_place.programme_id, new_place.chantier_id,
                                NEW.partner_id, NEW.status, NEW.instrument);
  RETURN NEW;
END
$$;

CREATE FUNCTION public.cashflow_rollups_on_action_move() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level on actions: an action that changes chantier (and perhaps programme) takes its
-- commitments' scheduled and paid figures along.
BEGIN
  INSERT INTO cashflow_rollups AS r
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT side.programme_id, side.chantier_id, g.partner_id, g.year, g.month, g.status,
         g.instrument, sum(side.sign * g.scheduled), sum(side.sign * g.paid),
         sum(side.sign * g.lines), sum(side.sign * g.payments)
  FROM (SELECT c.partner_id, c.status, c.instrument, f.year, f.month,
               sum(f.scheduled) AS scheduled, sum(f.paid) AS paid,
               sum(f.lines) AS lines, sum(f.payments) AS payments
        FROM commitments c
        CROSS JOIN LATERAL (
          SELECT l.year, 0 AS month, l.amount AS scheduled, 0 AS paid, 1 AS lines,
                 0 AS payments
          FROM schedule_lines l WHERE l.commitment_id = c.id
          UNION ALL
          SELECT extract(year FROM p.paid_on)::int, m.month, 0,
                 CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END, 0, 1
          FROM payments p
          CROSS JOIN LATERAL (VALUES (0), (extract(month FROM p.paid_on)::int)) AS m (month)
          WHERE p.commitment_id = c.id) AS f
        WHERE c.action_id = NEW.id
        GROUP BY 1, 2, 3, 4, 5) AS g
  CROSS JOIN (VALUES (OLD.programme_id, OLD.chantier_id, -1),
                     (NEW.programme_id, NEW.chantier_id, 1))
    AS side (programme_id, chantier_id, sign)
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(side.sign * g.lines) <> 0 OR sum(side.sign * g.payments) <> 0
      OR sum(side.sign * g.scheduled) <> 0 OR sum(side.sign * g.paid) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (programme_id, chantier_id, partner_id, year, month, status, instrument)
  DO UPDATE SET scheduled_sum = r.scheduled_sum + EXCLUDED.scheduled_sum,
                paid_sum = r.paid_sum + EXCLUDED.paid_sum,
                line_count = r.line_count + EXCLUDED.line_count,
                payment_count = r.payment_count + EXCLUDED.payment_count;

  DELETE FROM cashflow_rollups WHERE line_count = 0 AND payment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.cashflow_rollups_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recompute from scratch (a migration's backfill, or a repair by ops); writers wait meanwhile.
BEGIN
  LOCK TABLE commitments, actions, schedule_lines, payments IN SHARE MODE;
  DELETE FROM cashflow_rollups;
  INSERT INTO cashflow_rollups
    (programme_id, chantier_id, partner_id, year, month, status, instrument,
     scheduled_sum, paid_sum, line_count, payment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, f.year, f.month, c.status, c.instrument,
         sum(f.scheduled), sum(f.paid), sum(f.lines), sum(f.payments)
  FROM (SELECT commitment_id, year, 0 AS month, amount AS scheduled, 0 AS paid, 1 AS lines,
               0 AS payments
        FROM schedule_lines
        UNION ALL
        SELECT p.commitment_id, extract(year FROM p.paid_on)::int, m.month, 0,
               CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END, 0, 1
        FROM payments p
        CROSS JOIN LATERAL (VALUES (0), (extract(month FROM p.paid_on)::int)) AS m (month)
       ) AS f
  JOIN commitments c ON c.id = f.commitment_id
  JOIN actions a ON a.id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7;
END
$$;

CREATE TRIGGER schedule_lines_cashflow_insert AFTER INSERT ON public.schedule_lines
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_line_insert();
CREATE TRIGGER schedule_lines_cashflow_update AFTER UPDATE ON public.schedule_lines
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_line_update();
CREATE TRIGGER schedule_lines_cashflow_delete AFTER DELETE ON public.schedule_lines
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_line_delete();
CREATE TRIGGER schedule_lines_cashflow_truncate AFTER TRUNCATE ON public.schedule_lines
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_truncate();
CREATE TRIGGER payments_cashflow_insert AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_payment_insert();
CREATE TRIGGER payments_cashflow_update AFTER UPDATE ON public.payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_payment_update();
CREATE TRIGGER payments_cashflow_delete AFTER DELETE ON public.payments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_payment_delete();
CREATE TRIGGER payments_cashflow_truncate AFTER TRUNCATE ON public.payments
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_on_truncate();
CREATE TRIGGER commitments_cashflow_regrain BEFORE UPDATE OF partner_id, status, instrument,
  action_id ON public.commitments
  FOR EACH ROW WHEN (OLD.partner_id IS DISTINCT FROM NEW.partner_id
                     OR OLD.status IS DISTINCT FROM NEW.status
                     OR OLD.instrument IS DISTINCT FROM NEW.instrument
                     OR OLD.action_id IS DISTINCT FROM NEW.action_id)
  EXECUTE FUNCTION cashflow_rollups_on_commitment_regrain();
CREATE TRIGGER commitments_cashflow_delete BEFORE DELETE ON public.commitments
  FOR EACH ROW EXECUTE FUNCTION cashflow_rollups_on_commitment_regrain();
CREATE TRIGGER commitments_cashflow_removals AFTER DELETE ON public.commitments
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_apply_removals();
CREATE TRIGGER actions_cashflow_move AFTER UPDATE OF chantier_id ON public.actions
  FOR EACH ROW WHEN (OLD.chantier_id IS DISTINCT FROM NEW.chantier_id)
  EXECUTE FUNCTION cashflow_rollups_on_action_move();
