"""Cash-flow roll-ups: a deletion of commitments books its removals once per cell

Revision ID: ab2683f90fdf
Revises: 6e3da7db3962
Create Date: 2026-12-02 00:06:58.563585

A commitment being deleted took its lines and payments out of its cash-flow cells in its row
trigger, one update of each cell per commitment: within one transaction each update leaves a
row version the next lookup walks past, so a statement deleting 10,000 commitments of one cell
(a partner's pruning batch) spent 7.5 s of its 8.2 s there. The row trigger now stages the
removals in `cashflow_rollup_removals` (keyed by transaction, empty between statements), and a
statement trigger books them summed by cell, once. Updates that change a commitment's grain
still book at once (their statement may rewrite lines and payments too); what a commitment
counts for is read by one function for both (cashflow_commitment_figures). No data moves: the
new table starts, and stays, empty between statements. Downgrade restores the row trigger's
previous text and drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ab2683f90fdf"
down_revision: str | Sequence[str] | None = "6e3da7db3962"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# app/models/sql/cashflow_rollups.sql as this revision leaves it, and the functions it replaces as
# it found them.
NEW = (
    """
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
$$
""",
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_move(
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
$$
""",
    """
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
$$
""",
    """
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
$$
""",
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_on_commitment_regrain() RETURNS trigger
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
$$
""",
    """
CREATE TRIGGER commitments_cashflow_removals AFTER DELETE ON public.commitments
  FOR EACH STATEMENT EXECUTE FUNCTION cashflow_rollups_apply_removals()
""",
)
OLD = (
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_on_commitment_regrain() RETURNS trigger
LANGUAGE plpgsql AS $$
-- BEFORE UPDATE (partner, status, instrument or action changed) and BEFORE DELETE, per row:
-- the commitment's figures leave its old grain (and, on update, join the new one) while its
-- lines and payments are still as they were.
DECLARE
  old_place record;
  new_place record;
BEGIN
  SELECT programme_id, chantier_id INTO old_place FROM actions WHERE id = OLD.action_id;
  PERFORM cashflow_rollups_move(OLD.id, -1, old_place.programme_id, old_place.chantier_id,
                                OLD.partner_id, OLD.status, OLD.instrument);
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  SELECT programme_id, chantier_id INTO new_place FROM actions WHERE id = NEW.action_id;
  PERFORM cashflow_rollups_move(NEW.id, 1, new_place.programme_id, new_place.chantier_id,
                                NEW.partner_id, NEW.status, NEW.instrument);
  RETURN NEW;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.cashflow_rollups_move(
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
  FROM (SELECT year, 0 AS month, amount AS scheduled, 0 AS paid, 1 AS lines, 0 AS payments
        FROM schedule_lines WHERE commitment_id = commitment
        UNION ALL
        SELECT extract(year FROM p.paid_on)::int, m.month, 0,
               CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END, 0, 1
        FROM payments p
        CROSS JOIN LATERAL (VALUES (0), (extract(month FROM p.paid_on)::int)) AS m (month)
        WHERE p.commitment_id = commitment) AS f
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
$$
""",
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "cashflow_rollup_removals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("xact", sa.BigInteger(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("scheduled_sum", sa.Numeric(), nullable=False),
        sa.Column("paid_sum", sa.Numeric(), nullable=False),
        sa.Column("line_count", sa.BigInteger(), nullable=False),
        sa.Column("payment_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("cashflow_rollup_removals_pkey")),
    )
    op.create_index(
        op.f("ix_cashflow_rollup_removals_xact"), "cashflow_rollup_removals", ["xact"], unique=False
    )
    for statement in NEW:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TRIGGER commitments_cashflow_removals ON public.commitments")
    for statement in OLD:
        op.execute(statement)
    op.execute("DROP FUNCTION public.cashflow_rollups_apply_removals()")
    op.execute(
        "DROP FUNCTION public.cashflow_rollups_stage_removal(uuid, uuid, uuid, uuid, text, text)"
    )
    op.execute("DROP FUNCTION public.cashflow_commitment_figures(uuid)")
    op.drop_index(op.f("ix_cashflow_rollup_removals_xact"), table_name="cashflow_rollup_removals")
    op.drop_table("cashflow_rollup_removals")
