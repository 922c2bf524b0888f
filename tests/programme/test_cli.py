"""The `relance` command on a scratch database: what it prints, and who the history says wrote."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.database import plain
from tests.ops.test_outage import own_database  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _relance(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=os.environ | {"DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


async def test_cli_writes_are_signed_in_the_history(own_database: str) -> None:  # noqa: F811
    demo = await asyncio.to_thread(_relance, own_database, "demo")
    assert "synthetic actions" in demo.stdout
    again = await asyncio.to_thread(_relance, own_database, "seed")
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
    own_database: str,  # noqa: F811
) -> None:
    created = await asyncio.to_thread(
        _relance, own_database, "keys", "create", "--role", "partner", "--partner", "BDT",
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
