"""The cash-flow roll-up equals a GROUP BY over schedule lines and payments after every random
write (inserts, updates, deletes of lines and payments, commitments changing status, partner,
instrument or action, actions changing chantier, commitments deleted), and its rebuild too."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.cashflow.world import World, rollup_differences


async def test_rollup_equals_the_group_by_after_every_random_write(
    connection: AsyncConnection,
) -> None:
    world = World(connection, seed=12)
    await world.setup()
    done: dict[str, int] = {}
    for step in range(160):
        op = await world.step()
        done[op] = done.get(op, 0) + 1
        assert await rollup_differences(connection) == [], f"step {step}: {op}"
    # every kind of write was exercised
    assert set(done) >= {"new", "pay", "revise", "regrain", "move_action", "delete", "grow"}
    assert int((await connection.execute(text("SELECT count(*) FROM payments"))).scalar_one()) > 0


async def test_rebuild_recomputes_the_same_rows(connection: AsyncConnection) -> None:
    world = World(connection, seed=5)
    await world.setup()
    for _ in range(40):
        await world.step()
    before = (
        await connection.execute(
            text("SELECT * FROM cashflow_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7")
        )
    ).all()
    await connection.execute(text("DELETE FROM cashflow_rollups"))
    await connection.execute(text("SELECT cashflow_rollups_rebuild()"))
    after = (
        await connection.execute(
            text("SELECT * FROM cashflow_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7")
        )
    ).all()
    assert before
    assert after == before


async def test_truncating_payments_and_lines_empties_the_rollup(
    connection: AsyncConnection,
) -> None:
    world = World(connection, seed=9)
    await world.setup()
    for _ in range(20):
        await world.step()
    # TRUNCATE refuses to run with deferred checks pending (the schedules' sum check)
    await connection.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await connection.execute(text("TRUNCATE payments"))
    assert await rollup_differences(connection) == []
    await connection.execute(text("TRUNCATE schedule_lines"))
    assert await rollup_differences(connection) == []
    assert (
        int((await connection.execute(text("SELECT count(*) FROM cashflow_rollups"))).scalar_one())
        == 0
    )
