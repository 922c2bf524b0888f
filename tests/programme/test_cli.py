"""The `relance` command on a scratch database: what it prints, and who the history says wrote."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.database import plain
from tests.processes import relance


async def test_cli_writes_are_signed_in_the_history(own_database: str) -> None:
    demo = await asyncio.to_thread(relance, own_database, "demo")
    assert "synthetic actions" in demo.stdout
    again = await asyncio.to_thread(relance, own_database, "seed")
    assert "nothing changed" in again.stdout
    conn = await asyncpg.connect(plain(own_database))
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT actor_name, actor_role FROM changes WHERE resource = 'actions'"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("relance demo", "system")]


async def test_keys_create_prints_the_key_alone_on_the_last_line(
    own_database: str,
) -> None:
    created = await asyncio.to_thread(
        relance, own_database, "keys", "create", "--role", "partner", "--partner", "BDT",
        "--name", "BDT nightly",
    )  # fmt: skip
    last = created.stdout.strip().splitlines()[-1]
    assert last.startswith("rk_")
    assert " " not in last
    conn = await asyncpg.connect(plain(own_database))
    try:
        stored = await conn.fetchval("SELECT count(*) FROM api_keys WHERE secret_hash = $1", last)
        named = await conn.fetchval("SELECT role FROM api_keys WHERE name = 'BDT nightly'")
    finally:
        await conn.close()
    assert stored == 0  # only its digest is kept
    assert named == "partner"
