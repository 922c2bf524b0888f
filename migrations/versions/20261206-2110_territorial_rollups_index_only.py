"""Territorial roll-ups: a drilldown reads the key alone

Revision ID: a51c7e2d9f38
Revises: 3b8d6f1e0c47
Create Date: 2026-12-06 21:10:00.000000

A territorial drilldown reads one level's rows, often of one year or a few
(`drilldown=commune&year=2024`): PostgreSQL scanned the whole table for them (every level and
year: 726 pages at 1M commitments over 10 communes, and the commune level grows with the number
of communes), the key's index not holding the sums. The primary key now includes them
(`INCLUDE`): the same rows read from the index alone. A sum's update writes a new key entry
(it was seldom HOT already: the table's pages are full, and it writes one in the other two
indexes). At 1M commitments (PostgreSQL 15, psql, after VACUUM, warm, runs 2-5 of 5, two
rounds): `drilldown=commune&year=2024`'s statement 2.8-4.3 ms -> 2.3-3.2 ms; `epci,year` and
`chantier,year&commune=13055` within noise. Writes (10,000-row INSERTs and 1,000 single-row
ones, rolled back, alternated with and without a covering index of the same columns): within
noise (3,468/3,955 vs 3,418/3,891 rows/s; 1,077/1,036 vs 965/947).
The key is rebuilt under an exclusive lock: at 1M commitments, 42,300 rows, 0.2 s.
Downgrade puts the plain key back.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a51c7e2d9f38"
down_revision: str | Sequence[str] | None = "3b8d6f1e0c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "level, year, territory, programme_id, chantier_id, partner_id, status, instrument"


def _key(include: str) -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "ALTER TABLE territorial_rollups DROP CONSTRAINT territorial_rollups_pkey,"
        f" ADD CONSTRAINT territorial_rollups_pkey PRIMARY KEY ({KEY}){include}"
    )


def upgrade() -> None:
    _key(" INCLUDE (amount_sum, disbursed_sum, commitment_count)")


def downgrade() -> None:
    _key("")
