"""Periods are the programmes': budget years per programme, and the roll-up grain gains it

Revision ID: b4d81e6f2a93
Revises: 7a3e5b9c1d24
Create Date: 2026-12-01 13:00:00.000000

`programme_years` becomes (programme_id, year), kept equal to each programme's
start_year..end_year by a trigger on programmes (app/models/sql/programme_periods.sql, frozen
below); commitments and chantier targets (which gain `programme_id`, filled from their
chantier) reference it by (programme_id, year), so a year outside its own programme's period is
refused by the database. A programme whose rows already use years outside its period is first
widened to cover them (nothing is refused, nothing lost; the change is logged like any write).
Priority codes and chantier numbers and codes become unique per programme. The roll-up grain
gains `programme_id` (copied from the chantier; the same cells, one more key column), and its
functions (app/models/sql/commitment_rollups.sql, frozen below) fill it.

Downgrade restores the global years (every year of every programme's period), the global
uniqueness of codes and numbers (refused while two programmes share one) and the roll-up
functions of the previous revision; a period widened on upgrade stays widened.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4d81e6f2a93"
down_revision: str | Sequence[str] | None = "7a3e5b9c1d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIODS = (
    """
CREATE FUNCTION public.relance_programme_years() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM programme_years
  WHERE programme_id = NEW.id AND year NOT BETWEEN NEW.start_year AND NEW.end_year;
  INSERT INTO programme_years (programme_id, year)
  SELECT NEW.id, y FROM generate_series(NEW.start_year, NEW.end_year) AS y
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER programmes_years AFTER INSERT OR UPDATE OF start_year, end_year
  ON public.programmes
  FOR EACH ROW EXECUTE FUNCTION relance_programme_years()
""",
    """
CREATE TRIGGER chantier_targets_programme BEFORE INSERT OR UPDATE OF chantier_id
  ON public.chantier_targets
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier()
""",
)
ROLLUP_FUNCTIONS = (
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
$$
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
$$
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
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM commitment_rollups;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_action_move() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level on actions: an action that changes chantier (and perhaps programme) takes its
-- commitments' figures along.
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT OLD.programme_id AS programme_id, OLD.chantier_id AS chantier_id, partner_id,
               year, status, instrument,
               -amount AS amount, -disbursed_amount AS disbursed_amount, -1 AS commitments
        FROM commitments WHERE action_id = NEW.id
        UNION ALL
        SELECT NEW.programme_id, NEW.chantier_id, partner_id, year, status, instrument,
               amount, disbursed_amount, 1
        FROM commitments WHERE action_id = NEW.id) AS moved
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups
  WHERE programme_id = OLD.programme_id AND chantier_id = OLD.chantier_id
    AND commitment_count = 0;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recompute from scratch (a migration's backfill, or a repair by ops); writers wait meanwhile.
BEGIN
  LOCK TABLE commitments, actions IN SHARE MODE;
  DELETE FROM commitment_rollups;
  INSERT INTO commitment_rollups
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
         sum(c.amount), sum(c.disbursed_amount), count(*)
  FROM commitments c JOIN actions a ON a.id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6;
END
$$
""",
)
# --- downgrade: the roll-up functions of revision 7a3e5b9c1d24 -------------------------------
OLD_ROLLUP_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), count(*)
  FROM (SELECT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id) AS chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM new_rows c) AS added
  GROUP BY chantier_id, partner_id, year, status, instrument
  ORDER BY chantier_id, partner_id, year, status, instrument
  ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The new rows count in, the old rows count out; cells whose delta is nil are left alone, and
-- cells that no commitment feeds any more are deleted.
BEGIN
  INSERT INTO commitment_rollups AS r
    (chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id) AS chantier_id,
               c.partner_id, c.year, c.status, c.instrument,
               c.amount, c.disbursed_amount, 1 AS commitments
        FROM new_rows c
        UNION ALL
        SELECT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id),
               c.partner_id, c.year, c.status, c.instrument,
               -c.amount, -c.disbursed_amount, -1
        FROM old_rows c) AS delta
  GROUP BY chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY chantier_id, partner_id, year, status, instrument
  ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id)
                           AS chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.chantier_id, left_cells.partner_id, left_cells.year, left_cells.status,
         left_cells.instrument);
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT chantier_id, partner_id, year, status, instrument,
         -sum(amount), -sum(disbursed_amount), -count(*)
  FROM (SELECT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id) AS chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM old_rows c) AS removed
  GROUP BY chantier_id, partner_id, year, status, instrument
  ORDER BY chantier_id, partner_id, year, status, instrument
  ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT (SELECT a.chantier_id FROM actions a WHERE a.id = c.action_id)
                           AS chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.chantier_id, left_cells.partner_id, left_cells.year, left_cells.status,
         left_cells.instrument);
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM commitment_rollups;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_action_move() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level on actions: an action that changes chantier takes its commitments' figures along.
BEGIN
  INSERT INTO commitment_rollups AS r
    (chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT OLD.chantier_id AS chantier_id, partner_id, year, status, instrument,
               -amount AS amount, -disbursed_amount AS disbursed_amount, -1 AS commitments
        FROM commitments WHERE action_id = NEW.id
        UNION ALL
        SELECT NEW.chantier_id, partner_id, year, status, instrument,
               amount, disbursed_amount, 1
        FROM commitments WHERE action_id = NEW.id) AS moved
  GROUP BY chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY chantier_id, partner_id, year, status, instrument
  ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups WHERE chantier_id = OLD.chantier_id AND commitment_count = 0;
  RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recompute from scratch (a migration's backfill, or a repair by ops); writers wait meanwhile.
BEGIN
  LOCK TABLE commitments, actions IN SHARE MODE;
  DELETE FROM commitment_rollups;
  INSERT INTO commitment_rollups
    (chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
         sum(c.amount), sum(c.disbursed_amount), count(*)
  FROM commitments c JOIN actions a ON a.id = c.action_id
  GROUP BY 1, 2, 3, 4, 5;
END
$$
""",
)

GRAIN = ["programme_id", "chantier_id", "partner_id", "year", "status", "instrument"]
# (table, its unique columns of the previous revision)
UNIQUE = (("priorities", "code"), ("chantiers", "number"), ("chantiers", "code"))
# The years each programme's rows use: its commitments and its chantiers' targets.
USED_YEARS = """
SELECT a.programme_id, c.year FROM commitments c JOIN actions a ON a.id = c.action_id
UNION ALL
SELECT ch.programme_id, t.year FROM chantier_targets t JOIN chantiers ch ON ch.id = t.chantier_id
"""


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "UPDATE programmes p SET start_year = least(p.start_year, u.first),"
        " end_year = greatest(p.end_year, u.last), version = p.version + 1, updated_at = now()"
        f" FROM (SELECT programme_id, min(year) AS first, max(year) AS last FROM ({USED_YEARS}) y"
        " GROUP BY programme_id) u"
        " WHERE u.programme_id = p.id AND (u.first < p.start_year OR u.last > p.end_year)"
    )
    op.drop_constraint(op.f("commitments_year_fkey"), "commitments", type_="foreignkey")
    op.drop_constraint(op.f("chantier_targets_year_fkey"), "chantier_targets", type_="foreignkey")
    op.drop_table("programme_years")
    op.create_table(
        "programme_years",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.CheckConstraint(
            "year BETWEEN 1900 AND 2200", name=op.f("programme_years_year_range_check")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("programme_years_programme_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("programme_id", "year", name=op.f("programme_years_pkey")),
    )
    op.execute(
        "INSERT INTO programme_years (programme_id, year)"
        " SELECT p.id, y FROM programmes p, generate_series(p.start_year, p.end_year) AS y"
    )
    op.add_column("chantier_targets", sa.Column("programme_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE chantier_targets t SET programme_id = ch.programme_id"
        " FROM chantiers ch WHERE ch.id = t.chantier_id"
    )
    op.alter_column("chantier_targets", "programme_id", nullable=False)
    for statement in PERIODS:
        op.execute(statement)
    op.create_foreign_key(
        op.f("chantier_targets_chantier_id_programme_id_fkey"),
        "chantier_targets",
        "chantiers",
        ["chantier_id", "programme_id"],
        ["id", "programme_id"],
        onupdate="CASCADE",
        ondelete="CASCADE",
    )
    for table in ("commitments", "chantier_targets"):
        op.create_foreign_key(
            op.f(f"{table}_programme_id_year_fkey"),
            table,
            "programme_years",
            ["programme_id", "year"],
            ["programme_id", "year"],
            ondelete="RESTRICT",
        )
    for table, column in UNIQUE:
        op.drop_constraint(op.f(f"{table}_{column}_key"), table, type_="unique")
        op.create_unique_constraint(
            op.f(f"{table}_programme_id_{column}_key"), table, ["programme_id", column]
        )
    # The roll-up: the same cells, keyed by their chantier's programme too.
    op.add_column("commitment_rollups", sa.Column("programme_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE commitment_rollups r SET programme_id = ch.programme_id"
        " FROM chantiers ch WHERE ch.id = r.chantier_id"
    )
    op.alter_column("commitment_rollups", "programme_id", nullable=False)
    op.drop_constraint(op.f("commitment_rollups_pkey"), "commitment_rollups", type_="primary")
    op.create_primary_key(op.f("commitment_rollups_pkey"), "commitment_rollups", GRAIN)
    op.create_foreign_key(
        op.f("commitment_rollups_chantier_id_programme_id_fkey"),
        "commitment_rollups",
        "chantiers",
        ["chantier_id", "programme_id"],
        ["id", "programme_id"],
        onupdate="CASCADE",
    )
    for statement in ROLLUP_FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for statement in OLD_ROLLUP_FUNCTIONS:
        op.execute(statement)
    op.drop_constraint(
        op.f("commitment_rollups_chantier_id_programme_id_fkey"),
        "commitment_rollups",
        type_="foreignkey",
    )
    op.drop_constraint(op.f("commitment_rollups_pkey"), "commitment_rollups", type_="primary")
    op.drop_column("commitment_rollups", "programme_id")
    op.create_primary_key(op.f("commitment_rollups_pkey"), "commitment_rollups", GRAIN[1:])
    for table, column in UNIQUE:
        op.drop_constraint(op.f(f"{table}_programme_id_{column}_key"), table, type_="unique")
        op.create_unique_constraint(op.f(f"{table}_{column}_key"), table, [column])
    op.execute("DROP TRIGGER chantier_targets_programme ON public.chantier_targets")
    op.execute("DROP TRIGGER programmes_years ON public.programmes")
    op.execute("DROP FUNCTION public.relance_programme_years()")
    for table in ("commitments", "chantier_targets"):
        op.drop_constraint(op.f(f"{table}_programme_id_year_fkey"), table, type_="foreignkey")
    op.drop_constraint(
        op.f("chantier_targets_chantier_id_programme_id_fkey"),
        "chantier_targets",
        type_="foreignkey",
    )
    op.drop_column("chantier_targets", "programme_id")
    op.drop_table("programme_years")
    op.create_table(
        "programme_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.CheckConstraint(
            "year BETWEEN 1900 AND 2200", name=op.f("programme_years_year_range_check")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("programme_years_pkey")),
    )
    op.execute(
        "INSERT INTO programme_years (year) SELECT DISTINCT y"
        " FROM programmes p, generate_series(p.start_year, p.end_year) AS y"
    )
    for table in ("commitments", "chantier_targets"):
        op.create_foreign_key(
            op.f(f"{table}_year_fkey"),
            table,
            "programme_years",
            ["year"],
            ["year"],
            ondelete="RESTRICT",
        )
