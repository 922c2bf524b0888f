"""Payments: the derived disbursed_amount, the opening payments, the change log

Revision ID: e9abd7853588
Revises: fa3634a3b29d
Create Date: 2026-12-01 16:15:00.000000

`commitments.disbursed_amount` becomes derived: statement triggers on payments keep it equal to
the sum of its payments' signed contributions (and bump the commitment's version), a
disbursed_amount written on the commitment records its difference as an `adjustment` payment,
payments are never dated before their commitment's year nor a year moved past its payments
(app/models/sql/payments.sql, frozen below). Every existing non-zero disbursed_amount first
becomes one opening `adjustment` payment (dated the later of the commitment's last update and
the 1st of January of its year; its id derived from the commitment's, so that a round trip
makes the very same row), before the triggers exist: disbursed_amount, the commitments'
versions and every aggregate stay as they were, and the opening payments are not logged as
changes. Payments join the change log (capture triggers, money as decimal strings).

Downgrade drops the triggers and functions, deletes every payment and the payments' entries
of the change log (the previous revision has no payments resource), and keeps
disbursed_amount as it stands.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e9abd7853588"
down_revision: str | Sequence[str] | None = "fa3634a3b29d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPENING_PAYMENTS = """
INSERT INTO payments
    (id, commitment_id, partner_id, paid_on, amount, kind, external_ref, label,
     created_at, updated_at, version)
SELECT md5('relance-opening-payment:' || c.id::text)::uuid, c.id, c.partner_id,
       greatest((c.updated_at AT TIME ZONE 'UTC')::date, make_date(c.year, 1, 1)),
       c.disbursed_amount, 'adjustment', NULL, 'Opening balance',
       c.updated_at, c.updated_at, 1
FROM commitments c
WHERE c.disbursed_amount <> 0
"""

PAYMENT_RULES = (
    """
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
$$
""",
    """
CREATE FUNCTION public.payments_derive_disbursed() RETURNS trigger
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
$$
""",
    """
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
$$
""",
    """
CREATE TRIGGER payments_partner_insert BEFORE INSERT ON public.payments
  FOR EACH ROW WHEN (NEW.partner_id IS NULL)
  EXECUTE FUNCTION payments_partner_from_commitment()
""",
    """
CREATE TRIGGER payments_partner_update BEFORE UPDATE OF commitment_id ON public.payments
  FOR EACH ROW WHEN (NEW.commitment_id IS DISTINCT FROM OLD.commitment_id)
  EXECUTE FUNCTION payments_partner_from_commitment()
""",
    """
CREATE TRIGGER payments_disbursed_insert AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed()
""",
    """
CREATE TRIGGER payments_disbursed_update AFTER UPDATE ON public.payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed()
""",
    """
CREATE TRIGGER payments_disbursed_delete AFTER DELETE ON public.payments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_derive_disbursed()
""",
    """
CREATE TRIGGER commitments_adjustments_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_record_adjustments()
""",
    """
CREATE TRIGGER commitments_adjustments_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_record_adjustments()
""",
)

CAPTURE = (
    """
CREATE TRIGGER payments_capture_insert AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER payments_capture_update AFTER UPDATE ON public.payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER payments_capture_delete AFTER DELETE ON public.payments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
)

RESOURCE_DATA = """
CREATE OR REPLACE FUNCTION public.relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    WHEN resource = 'payments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount')
    ELSE row_data END
$$
"""

PREVIOUS_RESOURCE_DATA = """
CREATE OR REPLACE FUNCTION public.relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    ELSE row_data END
$$
"""

TRIGGERS = (
    ("payments_partner_insert", "payments"),
    ("payments_partner_update", "payments"),
    ("payments_disbursed_insert", "payments"),
    ("payments_disbursed_update", "payments"),
    ("payments_disbursed_delete", "payments"),
    ("commitments_adjustments_insert", "commitments"),
    ("commitments_adjustments_update", "commitments"),
    ("payments_capture_insert", "payments"),
    ("payments_capture_update", "payments"),
    ("payments_capture_delete", "payments"),
)
FUNCTIONS = (
    "payments_partner_from_commitment()",
    "payments_derive_disbursed()",
    "commitments_record_adjustments()",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    # Writers wait until the opening payments and the triggers are in place: a commitment
    # written in between would have a total without its payment.
    op.execute("LOCK TABLE commitments, payments IN SHARE ROW EXCLUSIVE MODE")
    op.execute(OPENING_PAYMENTS)
    for statement in (*PAYMENT_RULES, RESOURCE_DATA, *CAPTURE):
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON public.{table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION public.{function}")
    op.execute(PREVIOUS_RESOURCE_DATA)
    op.execute("DELETE FROM payments")
    op.execute("DELETE FROM changes WHERE resource = 'payments'")
