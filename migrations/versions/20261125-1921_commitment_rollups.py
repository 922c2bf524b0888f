"""Commitment roll-ups kept exact by triggers, for the aggregate endpoints

Revision ID: c8d2e3f4a5b6
Revises: a3f1c2d4e5b6
Create Date: 2026-11-25 19:11:00

`commitment_rollups` holds, per (chantier, partner, year, status, instrument), the sums of
`amount` and `disbursed_amount` and the number of commitments. Statement-level triggers on
`commitments` (with transition tables) apply each statement's delta in the writing
transaction, so every committed write is already in the roll-up and a reader sees the same
figures as a GROUP BY over `commitments`. A row trigger on `actions` moves an action's
figures when the action changes chantier.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c8d2e3f4a5b6"
down_revision: str | None = "a3f1c2d4e5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRAIN = "chantier_id, partner_id, year, status, instrument"
CHANTIER_OF = "(SELECT a.chantier_id FROM actions AS a WHERE a.id = c.action_id)"


def _apply(delta: str) -> str:
    """Add a delta (rows of the grain with signed sums) to the roll-up.

    Sorted by the grain so that concurrent writers lock roll-up rows in the same order."""
    return f"""
    INSERT INTO commitment_rollups AS r ({GRAIN}, amount_sum, disbursed_sum, n)
    SELECT {GRAIN}, sum(amount_sum), sum(disbursed_sum), sum(n)
    FROM ({delta}) AS delta
    GROUP BY {GRAIN}
    HAVING sum(n) <> 0 OR sum(amount_sum) <> 0 OR sum(disbursed_sum) <> 0
    ORDER BY {GRAIN}
    ON CONFLICT ({GRAIN}) DO UPDATE
    SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
        disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
        n = r.n + EXCLUDED.n;
    """


def _rows(table: str, sign: str) -> str:
    # A scalar subquery, not a join: the planner cannot estimate a transition table and would
    # hash the whole actions table for a one-row statement.
    return f"""
    SELECT {CHANTIER_OF} AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
           {sign}c.amount AS amount_sum, {sign}c.disbursed_amount AS disbursed_sum,
           {sign}1 AS n
    FROM {table} AS c
    """


def _prune(table: str) -> str:
    """Remove the roll-up rows that no commitment feeds any more."""
    return f"""
    DELETE FROM commitment_rollups AS r
    USING (SELECT DISTINCT {CHANTIER_OF} AS chantier_id, c.partner_id, c.year, c.status,
                  c.instrument
           FROM {table} AS c) AS gone
    WHERE r.n = 0 AND r.chantier_id = gone.chantier_id AND r.partner_id = gone.partner_id
      AND r.year = gone.year AND r.status = gone.status AND r.instrument = gone.instrument;
    """


def _function(name: str, body: str) -> str:
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
    {body}
    RETURN NULL;
    END $$;
    """


FUNCTIONS = {
    "commitment_rollups_on_insert": _apply(_rows("new_rows", "")),
    "commitment_rollups_on_update": _apply(
        _rows("new_rows", "") + " UNION ALL " + _rows("old_rows", "-")
    )
    + _prune("old_rows"),
    "commitment_rollups_on_delete": _apply(_rows("old_rows", "-")) + _prune("old_rows"),
    "commitment_rollups_on_truncate": "DELETE FROM commitment_rollups;",
    # Row level: an action changing chantier takes its commitments' figures along.
    "commitment_rollups_on_action_move": _apply(
        """
        SELECT OLD.chantier_id AS chantier_id, partner_id, year, status, instrument,
               -amount AS amount_sum, -disbursed_amount AS disbursed_sum, -1 AS n
        FROM commitments WHERE action_id = NEW.id
        UNION ALL
        SELECT NEW.chantier_id, partner_id, year, status, instrument,
               amount, disbursed_amount, 1
        FROM commitments WHERE action_id = NEW.id
        """
    )
    + "DELETE FROM commitment_rollups WHERE chantier_id = OLD.chantier_id AND n = 0;",
}

TRIGGERS = [
    """CREATE TRIGGER commitments_rollup_insert AFTER INSERT ON commitments
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
       EXECUTE FUNCTION commitment_rollups_on_insert()""",
    """CREATE TRIGGER commitments_rollup_update AFTER UPDATE ON commitments
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
       EXECUTE FUNCTION commitment_rollups_on_update()""",
    """CREATE TRIGGER commitments_rollup_delete AFTER DELETE ON commitments
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
       EXECUTE FUNCTION commitment_rollups_on_delete()""",
    """CREATE TRIGGER commitments_rollup_truncate AFTER TRUNCATE ON commitments
       FOR EACH STATEMENT EXECUTE FUNCTION commitment_rollups_on_truncate()""",
    """CREATE TRIGGER actions_rollup_move AFTER UPDATE OF chantier_id ON actions
       FOR EACH ROW WHEN (OLD.chantier_id IS DISTINCT FROM NEW.chantier_id)
       EXECUTE FUNCTION commitment_rollups_on_action_move()""",
]

# Recompute from scratch: the backfill below, and a repair tool for ops. Writers wait meanwhile.
REBUILD = f"""
CREATE FUNCTION commitment_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
LOCK TABLE commitments, actions IN SHARE MODE;
DELETE FROM commitment_rollups;
INSERT INTO commitment_rollups ({GRAIN}, amount_sum, disbursed_sum, n)
SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
       sum(c.amount), sum(c.disbursed_amount), count(*)
FROM commitments AS c JOIN actions AS a ON a.id = c.action_id
GROUP BY 1, 2, 3, 4, 5;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "commitment_rollups",
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("amount_sum", sa.Numeric(), nullable=False),
        sa.Column("disbursed_sum", sa.Numeric(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chantier_id"],
            ["chantiers.id"],
            name=op.f("commitment_rollups_chantier_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("commitment_rollups_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "chantier_id",
            "partner_id",
            "year",
            "status",
            "instrument",
            name=op.f("commitment_rollups_pkey"),
        ),
    )
    for name, body in FUNCTIONS.items():
        op.execute(_function(name, body))
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(REBUILD)
    op.execute("SELECT commitment_rollups_rebuild()")


def downgrade() -> None:
    op.execute("DROP TRIGGER actions_rollup_move ON actions")
    for suffix in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER commitments_rollup_{suffix} ON commitments")
    for name in [*FUNCTIONS, "commitment_rollups_rebuild"]:
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("commitment_rollups")
