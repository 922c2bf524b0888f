"""Test helpers for the change feed."""

from __future__ import annotations

import asyncpg

from app.changes.service import FEED
from app.common.pagination import encode_cursor
from tests.database import plain

LAST_CHANGE = """
SELECT cc.position, max(c.id) AS id FROM change_commits cc JOIN changes c USING (txid)
WHERE cc.position = (SELECT max(position) FROM change_commits) GROUP BY cc.position
"""


async def end_cursor(database_url: str) -> str:
    """The cursor after the last committed change, as the feed would give it to a consumer
    that had read it all (reading tens of thousands of entries to get there is slow)."""
    conn = await asyncpg.connect(plain(database_url))
    try:
        row = await conn.fetchrow(LAST_CHANGE)
    finally:
        await conn.close()
    return encode_cursor([row["position"], row["id"]] if row else [0, 0], FEED)
