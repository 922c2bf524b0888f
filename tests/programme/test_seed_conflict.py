"""`relance seed` on edited reference data: a conflict is one line on stderr, nothing changes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg

from tests.database import plain
from tests.processes import ROOT

SNAPSHOT = (
    "SELECT (SELECT string_agg(code || '=' || number, ',' ORDER BY code) FROM chantiers),"
    " (SELECT count(*) FROM changes)"
)


def _seed(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "seed"],
        env=os.environ | {"DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


async def test_a_renumbered_chantier_is_reported_in_one_line_and_nothing_changes(
    own_database: str,
) -> None:
    conn = await asyncpg.connect(plain(own_database))
    try:
        # An editor renumbered TRANSPORTS (5 in the reference file) to 99, and gave its old
        # number to PROJETS_URBAINS (6 in the file); a priority was renamed too, which the
        # seed would put back if it could run to the end.
        await conn.execute("UPDATE chantiers SET number = 99 WHERE code = 'TRANSPORTS'")
        await conn.execute("UPDATE chantiers SET number = 5 WHERE code = 'PROJETS_URBAINS'")
        await conn.execute("UPDATE priorities SET name = 'Renamed' WHERE position = 1")
        before = tuple(await conn.fetchrow(SNAPSHOT))
        renamed = await conn.fetchval("SELECT count(*) FROM priorities WHERE name = 'Renamed'")
        seeded = await asyncio.to_thread(_seed, own_database)
        after = tuple(await conn.fetchrow(SNAPSHOT))
        still = await conn.fetchval("SELECT count(*) FROM priorities WHERE name = 'Renamed'")
    finally:
        await conn.close()
    assert seeded.returncode != 0
    assert "Traceback" not in seeded.stderr, seeded.stderr
    lines = seeded.stderr.strip().splitlines()
    assert len(lines) == 1, seeded.stderr
    assert lines[0].startswith("relance seed: "), lines
    assert lines[0] == (
        "relance seed: chantier TRANSPORTS has number 5 in the reference file, but chantier "
        "PROJETS_URBAINS holds number 5 in the database; change one of them (the file or the "
        "database) and run the seed again; nothing was changed"
    )
    assert seeded.stdout == ""
    assert after == before  # one transaction, rolled back: no chantier, no change recorded
    assert renamed == still == 1
