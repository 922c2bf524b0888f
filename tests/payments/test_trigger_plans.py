"""A one-row payment written after a batch on the same connection looks its commitment up by
key: the trigger's check of payments dated before their commitment's year used to keep the
plan of the session's first statement, and after a batch of 10,000 payments that plan hashed
every commitment, so every later one-row payment on that pooled connection scanned the whole
commitments table (52 ms of a 78 ms INSERT at 200,000 commitments)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

COMMITMENTS = 2_000
PAYMENTS_PER_COMMITMENT = 5

SETUP = """
INSERT INTO actions (code, chantier_id, title, version)
SELECT 'PLAN-1', (SELECT id FROM chantiers ORDER BY number LIMIT 1), 'Plans', 1;
INSERT INTO commitments (action_id, partner_id, external_ref, year, amount, instrument,
                         status, version)
SELECT (SELECT id FROM actions WHERE code = 'PLAN-1'),
       (SELECT id FROM partners WHERE code = 'BDT'), 'PLAN-' || g, 2023, 1000, 'grant',
       'committed', 1
FROM generate_series(1, :n) AS g
"""

BATCH = """
INSERT INTO payments (commitment_id, paid_on, amount, kind, version)
SELECT c.id, DATE '2023-06-01', 1, 'disbursement', 1
FROM commitments c CROSS JOIN generate_series(1, :each)
WHERE c.external_ref LIKE 'PLAN-%'
"""

SEQ_SCANS = "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'commitments'"


async def test_a_one_row_payment_after_a_batch_scans_no_commitments(
    connection: AsyncConnection,
) -> None:
    # Plans this connection cached for the triggers, by earlier tests, are dropped: the batch
    # below is the first payment statement they are planned for, as on a fresh connection.
    await connection.execute(text("DISCARD PLANS"))
    for statement in SETUP.split(";\n"):
        await connection.execute(text(statement), {"n": COMMITMENTS})
    batch = await connection.execute(text(BATCH), {"each": PAYMENTS_PER_COMMITMENT})
    assert batch.rowcount == COMMITMENTS * PAYMENTS_PER_COMMITMENT
    target = (
        await connection.execute(text("SELECT id FROM commitments WHERE external_ref = 'PLAN-7'"))
    ).scalar_one()
    before = int((await connection.execute(text(SEQ_SCANS))).scalar_one())

    await connection.execute(
        text(
            "INSERT INTO payments (commitment_id, paid_on, amount, kind, version)"
            " VALUES (:id, DATE '2023-07-01', 1, 'disbursement', 1)"
        ),
        {"id": target},
    )

    assert int((await connection.execute(text(SEQ_SCANS))).scalar_one()) == before
    paid = await connection.execute(
        text("SELECT disbursed_amount FROM commitments WHERE id = :id"), {"id": target}
    )
    assert paid.scalar_one() == PAYMENTS_PER_COMMITMENT + 1


async def test_the_service_s_sessions_compile_no_jit(connection: AsyncConnection) -> None:
    """The same cached plans carry the batch's cost, above jit_above_cost: with JIT on, every
    later one-row payment compiled the roll-up upsert again (4 ms a payment became 20-27 ms at
    200,000 commitments). The service's engine turns JIT off for its sessions."""
    assert (await connection.execute(text("SHOW jit"))).scalar_one() == "off"
