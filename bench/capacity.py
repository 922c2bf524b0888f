"""Capacity benchmark: what N commitments, their schedules and payments take on disk, table by
table (heap, indexes and TOAST, per row), what a change-log entry takes, and how fast payments
are written through every trigger next to the same INSERT with the cash-flow trigger off (the
ratio is the roll-up's cost), in the same run. docs/scaling.md turns these into what one primary
holds.

    .venv/bin/python -m bench.capacity [--n 100000]      # or: make bench-capacity
    .venv/bin/python -m bench.capacity --database URL    # a database kept by bench.cashflow

Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL; builds a
scratch database like bench.cashflow (bench.aggregates' commitments, multi-year schedules,
about 3 payments each, loaded with the triggers off, then the roll-ups rebuilt) and drops it at
the end (a database named by --database is measured as it is, 10,000 payments added, and
kept).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

from bench.cashflow import build, time_writes
from bench.common import load_average
from devtools.scratch import drop_database, plain

TABLES = (
    "commitments",
    "schedule_lines",
    "schedule_versions",
    "payments",
    "commitment_rollups",
    "cashflow_rollups",
    "actions",
    "changes",
)

SIZES = """
SELECT c.relname, c.reltuples::bigint AS rows, pg_table_size(c.oid) AS heap,
       pg_indexes_size(c.oid) AS indexes, pg_total_relation_size(c.oid) AS total
FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r'
"""

# 10,000 payments through every trigger (change log included), committed, timed.
LOGGED_PAYMENTS = """
INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind, external_ref, version)
SELECT c.id, c.partner_id, make_date(c.year, 7, 1), 0.01, 'disbursement',
       'CAP-' || c.id || '-' || txid_current(), 1
FROM commitments c
WHERE c.status = 'committed' AND c.amount - c.disbursed_amount >= 0.02
ORDER BY c.id LIMIT 10000
"""

# A change-log entry's row by resource (its snapshot is most of it); indexes come on top.
ENTRIES = """
SELECT resource, count(*) AS entries, avg(pg_column_size(c.*))::int AS bytes
FROM changes c GROUP BY resource ORDER BY count(*) DESC
"""


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f}"


async def measure(url: str) -> None:
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute("VACUUM ANALYZE")
        logged_before = await conn.fetchval("SELECT count(*) FROM changes")
        started = time.perf_counter()
        await conn.execute(LOGGED_PAYMENTS)
        seconds = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE")
        logged = await conn.fetchval("SELECT count(*) FROM changes") - logged_before
        entries = await conn.fetch(ENTRIES)
        rows = await conn.fetch(SIZES, list(TABLES))
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()

    print(f"\nPostgreSQL {version}; load average {load_average()}")
    header = ("table", "rows", "heap MiB", "index MiB", "total MiB", "bytes/row")
    print(f"{header[0]:<20} {header[1]:>12} " + " ".join(f"{h:>10}" for h in header[2:]))
    for r in sorted(rows, key=lambda r: -r["total"]):
        per_row = r["total"] / r["rows"] if r["rows"] > 0 else 0
        print(
            f"{r['relname']:<20} {r['rows']:>12,} {_mib(r['heap']):>10} {_mib(r['indexes']):>10}"
            f" {_mib(r['total']):>10} {per_row:>10,.0f}"
        )
    print(f"database: {_mib(database)} MiB")
    print(
        f"10,000 payments through every trigger in {seconds:.2f} s: {logged:,} change-log entries"
    )
    for e in entries:
        print(
            f"change log, {e['resource']}: {e['entries']:,} entries of {e['bytes']:,} bytes (row)"
        )


async def run(n: int, database: str | None) -> None:
    url = database or await build(n)
    try:
        await measure(url)
        print(f"\n{'rows/s':>10}  write (median of 5, each rolled back; same run)")
        for name, per_second in (await time_writes(url)).items():
            print(f"{per_second:10,.0f}  {name}")
    finally:
        if database is None:
            await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="commitments")
    parser.add_argument("--database", help="measure a database kept by bench.cashflow --keep")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.database))


if __name__ == "__main__":
    main()
