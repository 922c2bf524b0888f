"""The `late` filter and the late counts probe the open milestones' partial index: checked on
the plans PostgreSQL makes at a realistic size (20,000 actions, 100,000 milestones), from
EXPLAIN's output, never from timings."""

from __future__ import annotations

import json

import asyncpg

from devtools.lateness import INDEX, load, plan_of, statements
from devtools.scratch import plain


async def test_lateness_reads_probe_the_partial_index_never_scan_milestones(
    own_database: str,
) -> None:
    connection = await asyncpg.connect(plain(own_database))
    try:
        await load(connection)
        programme = await connection.fetchval("SELECT id FROM programmes LIMIT 1")
        chantier = await connection.fetchval("SELECT id FROM chantiers ORDER BY number LIMIT 1")
        for name, sql in statements(programme, chantier).items():
            nodes = await plan_of(connection, sql)
            shown = json.dumps(nodes[0], indent=1)
            assert any(n.get("Index Name") == INDEX for n in nodes), (name, shown)
            scanned = {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"}
            assert "milestones" not in scanned, (name, shown)
    finally:
        await connection.close()
