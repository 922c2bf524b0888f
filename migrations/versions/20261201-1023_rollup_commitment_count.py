# ruff: noqa: E501, W291, W293 -- OLD_FUNCTIONS is the database's own text, long lines and all

"""Roll-ups: `n` becomes `commitment_count`; their functions as declared in app/models/sql

Revision ID: 38bf3406274a
Revises: baee35d10862
Create Date: 2026-12-01 10:23:32.887592

The column says what it counts. The roll-up functions were assembled from Python string
helpers in revision c8d2e3f4a5b6; they are now written out in
app/models/sql/commitment_rollups.sql (`alembic check` compares the database with it), and
the SQL below is that file's frozen copy as of this revision. Same behaviour, same triggers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "38bf3406274a"
down_revision: str | None = "baee35d10862"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = (
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

# --- downgrade: the functions of revision c8d2e3f4a5b6, as the database held them -----------

OLD_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
    
    INSERT INTO commitment_rollups AS r (chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum, n)
    SELECT chantier_id, partner_id, year, status, instrument, sum(amount_sum), sum(disbursed_sum), sum(n)
    FROM (
    SELECT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
           c.amount AS amount_sum, c.disbursed_amount AS disbursed_sum,
           1 AS n
    FROM new_rows AS c
    ) AS delta
    GROUP BY chantier_id, partner_id, year, status, instrument
    HAVING sum(n) <> 0 OR sum(amount_sum) <> 0 OR sum(disbursed_sum) <> 0
    ORDER BY chantier_id, partner_id, year, status, instrument
    ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
    SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
        disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
        n = r.n + EXCLUDED.n;
    
    RETURN NULL;
    END $function$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
    
    INSERT INTO commitment_rollups AS r (chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum, n)
    SELECT chantier_id, partner_id, year, status, instrument, sum(amount_sum), sum(disbursed_sum), sum(n)
    FROM (
    SELECT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
           c.amount AS amount_sum, c.disbursed_amount AS disbursed_sum,
           1 AS n
    FROM new_rows AS c
     UNION ALL 
    SELECT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
           -c.amount AS amount_sum, -c.disbursed_amount AS disbursed_sum,
           -1 AS n
    FROM old_rows AS c
    ) AS delta
    GROUP BY chantier_id, partner_id, year, status, instrument
    HAVING sum(n) <> 0 OR sum(amount_sum) <> 0 OR sum(disbursed_sum) <> 0
    ORDER BY chantier_id, partner_id, year, status, instrument
    ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
    SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
        disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
        n = r.n + EXCLUDED.n;
    
    DELETE FROM commitment_rollups AS r
    USING (SELECT DISTINCT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status,
                  c.instrument
           FROM old_rows AS c) AS gone
    WHERE r.n = 0 AND r.chantier_id = gone.chantier_id AND r.partner_id = gone.partner_id
      AND r.year = gone.year AND r.status = gone.status AND r.instrument = gone.instrument;
    
    RETURN NULL;
    END $function$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
    
    INSERT INTO commitment_rollups AS r (chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum, n)
    SELECT chantier_id, partner_id, year, status, instrument, sum(amount_sum), sum(disbursed_sum), sum(n)
    FROM (
    SELECT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
           -c.amount AS amount_sum, -c.disbursed_amount AS disbursed_sum,
           -1 AS n
    FROM old_rows AS c
    ) AS delta
    GROUP BY chantier_id, partner_id, year, status, instrument
    HAVING sum(n) <> 0 OR sum(amount_sum) <> 0 OR sum(disbursed_sum) <> 0
    ORDER BY chantier_id, partner_id, year, status, instrument
    ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
    SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
        disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
        n = r.n + EXCLUDED.n;
    
    DELETE FROM commitment_rollups AS r
    USING (SELECT DISTINCT (SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id) AS chantier_id, c.partner_id, c.year, c.status,
                  c.instrument
           FROM old_rows AS c) AS gone
    WHERE r.n = 0 AND r.chantier_id = gone.chantier_id AND r.partner_id = gone.partner_id
      AND r.year = gone.year AND r.status = gone.status AND r.instrument = gone.instrument;
    
    RETURN NULL;
    END $function$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_truncate()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
    DELETE FROM commitment_rollups;
    RETURN NULL;
    END $function$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_on_action_move()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
    
    INSERT INTO commitment_rollups AS r (chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum, n)
    SELECT chantier_id, partner_id, year, status, instrument, sum(amount_sum), sum(disbursed_sum), sum(n)
    FROM (
        SELECT OLD.chantier_id AS chantier_id, partner_id, year, status, instrument,
               -amount AS amount_sum, -disbursed_amount AS disbursed_sum, -1 AS n
        FROM commitments WHERE action_id = NEW.id
        UNION ALL
        SELECT NEW.chantier_id, partner_id, year, status, instrument,
               amount, disbursed_amount, 1
        FROM commitments WHERE action_id = NEW.id
        ) AS delta
    GROUP BY chantier_id, partner_id, year, status, instrument
    HAVING sum(n) <> 0 OR sum(amount_sum) <> 0 OR sum(disbursed_sum) <> 0
    ORDER BY chantier_id, partner_id, year, status, instrument
    ON CONFLICT (chantier_id, partner_id, year, status, instrument) DO UPDATE
    SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
        disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
        n = r.n + EXCLUDED.n;
    DELETE FROM commitment_rollups WHERE chantier_id = OLD.chantier_id AND n = 0;
    RETURN NULL;
    END $function$
""",
    """
CREATE OR REPLACE FUNCTION public.commitment_rollups_rebuild()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
LOCK TABLE commitments, actions IN SHARE MODE;
DELETE FROM commitment_rollups;
INSERT INTO commitment_rollups (chantier_id, partner_id, year, status, instrument, amount_sum, disbursed_sum, n)
SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
       sum(c.amount), sum(c.disbursed_amount), count(*)
FROM commitments AS c JOIN actions AS a ON a.id = c.action_id
GROUP BY 1, 2, 3, 4, 5;
END $function$
""",
)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("commitment_rollups", "n", new_column_name="commitment_count")
    for statement in FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.alter_column("commitment_rollups", "commitment_count", new_column_name="n")
    for statement in OLD_FUNCTIONS:
        op.execute(statement)
