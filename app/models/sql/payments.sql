-- Payments and the derived disbursed_amount (DESIGN.md, "Money over time").
--
-- A payment's signed contribution: a disbursement counts +amount, a reversal -amount, an
-- adjustment its own signed amount. commitments.disbursed_amount is kept equal to the sum of
-- its payments' contributions by the statement triggers below, on every write path (the API,
-- the partner sync, psql): each statement adds its delta to the commitment row, so under
-- concurrent writers the row lock serialises them and the CHECK disbursed_within_amount
-- (0 <= disbursed_amount <= amount) refuses the writer that would cross a bound.
--
-- Two ways in, one rule:
-- 1. a payment is written: its delta moves disbursed_amount (and the commitment's version and
--    updated_at: its representation changed);
-- 2. disbursed_amount is written on the commitment itself (a partner that only knows a
--    cumulative total): the difference is recorded as one `adjustment` payment, dated today
--    (or the 1st of January of the commitment's year, when that is later).
-- While one side reconciles the other, it sets relance.reconciling for the transaction, so
-- that the other side's trigger does not answer back (a payment recorded for a written total
-- must not move that total again).

CREATE FUNCTION public.payments_partner_from_commitment() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The commitment's partner, unless the writer sent it (the triggers' WHEN clauses): the
-- composite foreign key (commitment_id, partner_id) checks that a partner sent is the
-- commitment's, so a batch that names its partner calls no function per row.
BEGIN
  IF TG_OP = 'INSERT' OR NEW.partner_id IS NOT DISTINCT FROM OLD.partner_id THEN
    NEW.partner_id := (SELECT c.partner_id FROM commitments c WHERE c.id = NEW.commitment_id);
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION public.payments_derive_disbursed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: one UPDATE of the commitments a statement touched, whatever its size. The
-- delta is added to the row as it stands once locked, never recomputed from a snapshot, so
-- two concurrent payments both count. A total crossing a bound is refused with the name of
-- the bound crossed (app/errors/database.py maps it to /amount).
--
-- The statements that read commitments run through EXECUTE, planned for each statement's own
-- transition table: PostgreSQL keeps a static statement's plan from the session's first
-- statement, and one planned for a batch of 10,000 payments (hashing commitments) would scan
-- every commitment for each later one-row payment on the same pooled connection.
DECLARE
  moved numeric := 0;
  early bigint := 0;  -- payments dated before their commitment's year
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
      EXECUTE $q$UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT n.commitment_id,
                   sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END) AS delta
            FROM new_rows n GROUP BY n.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0$q$;
    ELSIF TG_OP = 'UPDATE' THEN
      SELECT coalesce(sum(CASE n.kind WHEN 'reversal' THEN -n.amount ELSE n.amount END), 0)
             - (SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN -o.amount
                                                ELSE o.amount END), 0) FROM old_rows o)
      INTO moved FROM new_rows n;
      EXECUTE $q$UPDATE commitments c
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
      WHERE c.id = d.commitment_id AND d.delta <> 0$q$;
    ELSE
      SELECT coalesce(sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END), 0)
      INTO moved FROM old_rows o;
      EXECUTE $q$UPDATE commitments c
      SET disbursed_amount = c.disbursed_amount + d.delta, version = c.version + 1,
          updated_at = now()
      FROM (SELECT o.commitment_id,
                   sum(CASE o.kind WHEN 'reversal' THEN o.amount ELSE -o.amount END) AS delta
            FROM old_rows o GROUP BY o.commitment_id) AS d
      WHERE c.id = d.commitment_id AND d.delta <> 0$q$;
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
    EXECUTE $q$SELECT count(*) FROM new_rows n JOIN commitments c ON c.id = n.commitment_id
               WHERE n.paid_on < make_date(c.year, 1, 1)$q$ INTO early;
  ELSIF TG_OP = 'UPDATE' THEN
    EXECUTE $q$SELECT count(*) FROM (SELECT FROM new_rows n JOIN commitments c
                                     ON c.id = n.commitment_id
                                     WHERE n.paid_on < make_date(c.year, 1, 1)
                                     FOR SHARE OF c) AS locked$q$ INTO early;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF early > 0 THEN
      RAISE EXCEPTION 'a payment is dated before its commitment''s year'
        USING ERRCODE = 'check_violation', TABLE = 'payments',
              CONSTRAINT = 'payments_paid_on_in_commitment_years_check';
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitments_record_adjustments() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level on commitments: a written disbursed_amount becomes one adjustment payment
-- per commitment (its difference to the total before), and a year may not move past the date
-- of a payment already made. Skipped while payments move the totals themselves.
BEGIN
  IF current_setting('relance.reconciling', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    PERFORM FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.year > o.year
      AND EXISTS (SELECT FROM payments p
                  WHERE p.commitment_id = n.id AND p.paid_on < make_date(n.year, 1, 1));
    IF FOUND THEN
      RAISE EXCEPTION 'a commitment''s year would come after the date of one of its payments'
        USING ERRCODE = 'check_violation', TABLE = 'commitments',
              CONSTRAINT = 'commitments_year_before_payments_check';
    END IF;
  END IF;
  PERFORM set_config('relance.reconciling', 'on', true);
  IF TG_OP = 'INSERT' THEN
    INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, version)
    SELECT n.id, n.partner_id, greatest(current_date, make_date(n.year, 1, 1)),
           n.disbursed_amount, 'adjustment', 1
    FROM new_rows n
    WHERE n.disbursed_amount <> 0;
  ELSE
    INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, version)
    SELECT n.id, n.partner_id, greatest(current_date, make_date(n.year, 1, 1)),
           n.disbursed_amount - o.disbursed_amount, 'adjustment', 1
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.disbursed_amount <> o.disbursed_amount;
  END IF;
  PERFORM set_config('relance.reconciling', '', true);
  RETURN NULL;
END
$$;

CREATE TRIGGER payments_partner_insert BEFORE INSERT ON public.payments
  FOR EACH ROW WHEN (NEW.partner_id IS NULL)
  EXECUTE FUNCTION payments_partner_from_commitment();
CREATE TRIGGER payments_partner_update BEFORE UPDATE OF commitment_id ON public.payments
  FOR EACH ROW WHEN (NEW.commitment_id IS DISTINCT FROM OLD.commitment_id)
  EXECUTE FUNCTION payments_partner_from_commitment();
CREATE TRIGGER payments_disbursed_insert AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed();
CREATE TRIGGER payments_disbursed_update AFTER UPDATE ON public.payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed();
CREATE TRIGGER payments_disbursed_delete AFTER DELETE ON public.payments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed();
CREATE TRIGGER commitments_adjustments_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_record_adjustments();
CREATE TRIGGER commitments_adjustments_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_record_adjustments();
