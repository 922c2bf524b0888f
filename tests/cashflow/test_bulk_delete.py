"""A statement deleting many commitments takes their lines and payments out of the cash-flow
roll-up once per cell, not once per commitment: before, each commitment's row trigger updated
its cells, and 10,000 updates of one cell in one transaction made each next lookup walk past
the row versions the earlier ones left (10 s for 10,000 commitments, most of it there). The
roll-up still equals its GROUP BY afterwards, commitments kept in the same cells included, and
nothing stays staged."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.cashflow.world import rollup_differences

COMMITMENTS = 1_500
KEPT = 100  # of the same cells, not deleted

SETUP = """
INSERT INTO actions (code, chantier_id, title, version)
SELECT 'BULK-' || n, (SELECT id FROM chantiers ORDER BY number LIMIT 1), 'Bulk', 1
FROM generate_series(1, 2) AS n;
INSERT INTO commitments (action_id, partner_id, external_ref, year, amount, instrument,
                         status, version)
SELECT (SELECT id FROM actions WHERE code = 'BULK-' || (1 + g % 2)),
       (SELECT id FROM partners WHERE code = 'BDT'), 'BULK-' || g, 2023 + g % 2, 100 + g % 7,
       'grant', 'committed', 1
FROM generate_series(1, :n) AS g;
INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, external_ref, version)
SELECT c.id, c.partner_id, make_date(c.year, 1 + (c.amount::int % 3), 15), 10, 'disbursement',
       'PAY-' || c.external_ref, 1
FROM commitments c WHERE c.external_ref LIKE 'BULK-%'
"""

WRITES = """
SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'cashflow_rollups'
"""

CELLS = """
SELECT count(*) FROM cashflow_rollups r
WHERE r.chantier_id = (SELECT id FROM chantiers ORDER BY number LIMIT 1)
  AND r.partner_id = (SELECT id FROM partners WHERE code = 'BDT')
"""


async def test_a_bulk_delete_books_each_cell_once_and_keeps_the_rollup_exact(
    connection: AsyncConnection,
) -> None:
    for statement in SETUP.split(";\n"):
        await connection.execute(text(statement), {"n": COMMITMENTS + KEPT})
    cells = int((await connection.execute(text(CELLS))).scalar_one())
    assert await rollup_differences(connection) == []
    before = int((await connection.execute(text(WRITES))).scalar_one())

    deleted = await connection.execute(
        text(
            "DELETE FROM commitments WHERE external_ref LIKE 'BULK-%'"
            " AND substr(external_ref, 6)::int > :kept"
        ),
        {"kept": KEPT},
    )
    assert deleted.rowcount == COMMITMENTS

    writes = int((await connection.execute(text(WRITES))).scalar_one()) - before
    assert 0 < writes <= cells, (writes, cells)  # was one per commitment and cell: 3,000+
    assert await rollup_differences(connection) == []
    staged = await connection.execute(text("SELECT count(*) FROM cashflow_rollup_removals"))
    assert staged.scalar_one() == 0
    kept = await connection.execute(
        text("SELECT count(*) FROM commitments WHERE external_ref LIKE 'BULK-%'")
    )
    assert kept.scalar_one() == KEPT
