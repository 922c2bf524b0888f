"""The test database server: TEST_DATABASE_URL when set, otherwise the embedded PostgreSQL.

The scratch-database helpers live in devtools.scratch (the benchmarks use them too); they are
re-exported here, where the tests have always found them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

from app import embedded
from devtools.scratch import create_scratch_database, drop_database, plain, with_database

__all__ = [
    "admin_url",
    "create_scratch_database",
    "drop_database",
    "plain",
    "server_major",
    "wait_for_lock_waits",
    "with_database",
]

ROOT = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """A URL to a database of the test server from which scratch databases are made."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    data_dir = Path(os.environ.get("TEST_EMBEDDED_DATA_DIR", ROOT / ".relance" / "test-pgdata"))
    return embedded.start(data_dir, database="postgres")


async def server_major(url: str) -> int:
    """The major version of the PostgreSQL server at `url` (15, 18…)."""
    conn = await asyncpg.connect(plain(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def wait_for_lock_waits(url: str, count: int = 1, seconds: float = 120) -> None:
    """Return once `count` sessions of the database at `url` are waiting for a lock.

    Tests that stage a lock conflict wait for it to exist instead of sleeping and hoping that
    the machine was quick enough; the deadline only ends a test whose conflict never forms."""
    conn = await asyncpg.connect(plain(url))
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting >= count:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{waiting} of {count} lock waits after {seconds} s")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
