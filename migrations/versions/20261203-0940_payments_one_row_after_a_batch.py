"""Payments: a one-row payment after a batch no longer scans every commitment

Revision ID: 9e4c2a7b1d53
Revises: 7d3e9b1c4a26
Create Date: 2026-12-03 09:40:00.000000

PostgreSQL plans a trigger function's static statement once per session, for the size of the
transition table it first sees, and keeps that plan. The payments' check of a payment dated
before its commitment's year joined the statement's new rows to commitments: after a batch of
10,000 payments on a connection, the plan it cached hashed every commitment, and every later
one-row payment on that connection paid a sequential scan of commitments (at 200,000
commitments, PostgreSQL 15, auto_explain: 52 ms of a 78 ms single-row INSERT). The derived
total's UPDATE of commitments kept a hash join the same way on a small table. Both now run
through EXECUTE, planned for each statement's own rows: same rows updated, checked and locked,
same errors. No data moves. Downgrade restores the previous text.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9e4c2a7b1d53"
down_revision: str | Sequence[str] | None = "7d3e9b1c4a26"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app/models/sql/payments.sql's function as this revision leaves it and as it found it.
NEW_FUNCTION = """
CREATE OR REPLACE FUNCTION public.payments_derive_disbursed() RETURNS trigger
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
"""

OLD_FUNCTION = """
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
$$;"""


def upgrade() -> None:
    op.execute(NEW_FUNCTION)


def downgrade() -> None:
    op.execute(OLD_FUNCTION)
