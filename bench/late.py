"""Late-filter benchmark: 20,000 actions and 100,000 milestones (devtools.lateness), each
statement that reads lateness timed next to its baseline without lateness, alternated run by
run in the same connection, with its plan (EXPLAIN ANALYZE) printed.

    .venv/bin/python -m bench.late [--runs 200]        # or: make bench-late

Baselines: a page of actions without `late` (the same order and limit), and the per-chantier
action counts without the late FILTER. Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else
the embedded PostgreSQL; the scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
from sqlalchemy import select

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import Action
from app.programme.service import seed
from bench.common import server_url
from devtools.lateness import load, sql_of, statements
from devtools.scratch import create_scratch_database, drop_database, plain

COUNTS_BASELINE = """
SELECT ch.id, ch.code, ch.name, count(a.id) AS actions
FROM chantiers ch LEFT JOIN actions a ON a.chantier_id = ch.id
GROUP BY GROUPING SETS ((ch.id, ch.code, ch.name), ())
ORDER BY ch.id IS NULL, ch.code
"""


async def _timed(connection: asyncpg.Connection, sql: str, times: list[float]) -> None:
    started = time.perf_counter()
    await connection.fetch(sql)
    times.append((time.perf_counter() - started) * 1000)


async def main(runs: int) -> None:
    server, origin = await asyncio.to_thread(server_url)
    url = await create_scratch_database(server, "relance_bench_late")
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        settings = Settings(database_url=url)  # type: ignore[arg-type]
        engine = create_engine(settings, serving=False)
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
        await engine.dispose()
        connection = await asyncpg.connect(plain(url))
        try:
            await load(connection)
            programme = await connection.fetchval("SELECT id FROM programmes LIMIT 1")
            chantier = await connection.fetchval("SELECT id FROM chantiers ORDER BY number LIMIT 1")
            late = await connection.fetchval(
                "SELECT count(*) FROM actions a WHERE EXISTS (SELECT 1 FROM milestones m"
                " WHERE m.action_id = a.id AND (m.status = 'missed'"
                " OR (m.status = 'scheduled' AND m.due_on < current_date)))"
            )
            print(f"server: {origin}; 20,000 actions, 100,000 milestones, {late} actions late")
            found = statements(programme, chantier)
            for name, sql in found.items():
                plan = await connection.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}")
                print(f"\n-- {name}")
                print("\n".join(row[0] for row in plan))
            page = sql_of(select(Action).order_by(Action.code, Action.id).limit(51))
            pairs = {
                "actions ?late=true": (found["actions ?late=true"], page),
                "actions ?late=false": (found["actions ?late=false"], page),
                "summary, late per chantier": (
                    found["summary, late per chantier"],
                    COUNTS_BASELINE,
                ),
            }
            print(f"\nmedian of {runs} runs each, alternated with its baseline (ms)")
            print(f"{'statement':<30} {'with late':>10} {'baseline':>10} {'ratio':>7}")
            for name, (sql, baseline) in pairs.items():
                with_late: list[float] = []
                without: list[float] = []
                for _ in range(runs):
                    await _timed(connection, sql, with_late)
                    await _timed(connection, baseline, without)
                a, b = statistics.median(with_late), statistics.median(without)
                print(f"{name:<30} {a:>10.2f} {b:>10.2f} {a / b:>6.2f}×")
        finally:
            await connection.close()
    finally:
        await drop_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
