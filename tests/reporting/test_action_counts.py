"""Each chantier's number of actions (chantier_action_counts) equals a count of the actions
after every kind of statement on them: many rows at once, moves between chantiers, updates
that move nothing, deletes, truncate; whatever writes them (plain SQL here, no API)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def _counts(connection: AsyncConnection) -> tuple[dict[str, int], dict[str, int]]:
    kept = await connection.execute(
        text("SELECT chantier_id::text, actions FROM chantier_action_counts WHERE actions > 0")
    )
    counted = await connection.execute(
        text("SELECT chantier_id::text, count(*) FROM actions GROUP BY chantier_id")
    )
    return {c: int(n) for c, n in kept.all()}, {c: int(n) for c, n in counted.all()}


async def _same(connection: AsyncConnection) -> dict[str, int]:
    kept, counted = await _counts(connection)
    assert kept == counted
    return kept


async def test_counts_follow_every_statement(connection: AsyncConnection) -> None:
    before = await _same(connection)
    chantiers = [
        str(c)
        for c in (await connection.scalars(text("SELECT id FROM chantiers ORDER BY number"))).all()
    ]
    # 300 actions over three chantiers in one statement.
    await connection.execute(
        text(
            "INSERT INTO actions (code, chantier_id, title, version)"
            " SELECT 'COUNT-' || g, (CAST(:ids AS uuid[]))[1 + g % 3], 'Action ' || g, 1"
            " FROM generate_series(1, 300) AS g"
        ),
        {"ids": chantiers[:3]},
    )
    after = await _same(connection)
    assert sum(after.values()) == sum(before.values()) + 300
    # Half of them move to a fourth chantier; the others' titles change (no count moves).
    await connection.execute(
        text(
            "UPDATE actions SET chantier_id = CAST(:to AS uuid)"
            " WHERE code LIKE 'COUNT-%' AND substr(code, 7)::int % 2 = 0"
        ),
        {"to": chantiers[3]},
    )
    await _same(connection)
    await connection.execute(
        text("UPDATE actions SET title = title || ' bis' WHERE code LIKE 'COUNT-%'")
    )
    await _same(connection)
    # And back and forth in one statement: two chantiers swap their test actions.
    await connection.execute(
        text(
            "UPDATE actions SET chantier_id = CASE WHEN chantier_id = CAST(:a AS uuid)"
            " THEN CAST(:b AS uuid) ELSE CAST(:a AS uuid) END"
            " WHERE code LIKE 'COUNT-%' AND chantier_id IN (CAST(:a AS uuid), CAST(:b AS uuid))"
        ),
        {"a": chantiers[0], "b": chantiers[3]},
    )
    await _same(connection)
    await connection.execute(
        text("DELETE FROM actions WHERE code LIKE 'COUNT-%' AND substr(code, 7)::int > 100")
    )
    await _same(connection)
    await connection.execute(text("DELETE FROM actions WHERE code LIKE 'COUNT-%'"))
    assert await _same(connection) == before


async def test_truncate_empties_the_counts(connection: AsyncConnection) -> None:
    await connection.execute(
        text(
            "INSERT INTO actions (code, chantier_id, title, version)"
            " SELECT 'TRUNC-' || g, (SELECT id FROM chantiers ORDER BY number LIMIT 1), 't', 1"
            " FROM generate_series(1, 5) AS g"
        )
    )
    assert sum((await _same(connection)).values()) >= 5
    await connection.execute(text("TRUNCATE actions CASCADE"))
    assert await connection.scalar(text("SELECT count(*) FROM chantier_action_counts")) == 0
    await _same(connection)


async def test_rebuild_repairs_counts_that_drifted(connection: AsyncConnection) -> None:
    await connection.execute(
        text(
            "INSERT INTO actions (code, chantier_id, title, version)"
            " SELECT 'DRIFT-' || g || '-' || c.n, c.id, 't', 1"
            " FROM generate_series(1, 4) AS g, (SELECT id, number AS n FROM chantiers LIMIT 2) AS c"
        )
    )
    await connection.execute(text("UPDATE chantier_action_counts SET actions = actions + 999"))
    await connection.execute(text("DELETE FROM chantier_action_counts WHERE ctid IN "
                                  "(SELECT ctid FROM chantier_action_counts LIMIT 1)"))  # fmt: skip
    kept, counted = await _counts(connection)
    assert kept != counted
    await connection.execute(text("SELECT chantier_action_counts_rebuild()"))
    await _same(connection)
