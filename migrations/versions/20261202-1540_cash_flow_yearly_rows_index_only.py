"""Cash flow: the yearly rows read index-only

Revision ID: 7d3e9b1c4a26
Revises: 5c1f0a7d2e94
Create Date: 2026-12-02 15:40:00.000000

Every cash-flow cube reads the committed commitments' yearly rows (month 0): through
`ix_cashflow_rollups_status_month`, a bitmap scan that visited about one heap page per row (the
yearly rows lie among the monthly ones). A partial covering index of the yearly rows serves
them index-only and replaces that index, which held every row: the roll-up's updates were
already never HOT (the month axis's covering index includes the sums), so a yearly row's update
writes one index entry as before, and a monthly row's one fewer. At 1M commitments (PostgreSQL
15, psql, median of 10, two rounds alternated, before → after): the year axis 3.02/3.24 →
2.58/2.75 ms, by chantier 3.76/4.16 → 3.62/3.53 ms, by programme and partner 4.26/4.72 →
4.15/4.13 ms; the month axis under a year filter, which reads few yearly rows, unchanged
(7.36/8.00 → 8.14/7.60 ms, noise). After 20,000 payments rolled back (pages no longer
all-visible, no VACUUM): the year axis 3.42/3.26 → 2.85/2.83 ms, by chantier 4.33/4.25 →
3.70/3.89 ms, the month axis 8.31/8.00 → 7.49/8.17 ms.
Downgrade puts the former index back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d3e9b1c4a26"
down_revision: str | Sequence[str] | None = "5c1f0a7d2e94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ = [
    "programme_id",
    "chantier_id",
    "partner_id",
    "instrument",
    "scheduled_sum",
    "paid_sum",
    "line_count",
]


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_index(
        "ix_cashflow_rollups_yearly",
        "cashflow_rollups",
        ["status", "year"],
        postgresql_include=READ,
        postgresql_where=sa.text("month = 0"),
    )
    op.drop_index("ix_cashflow_rollups_status_month", table_name="cashflow_rollups")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_index("ix_cashflow_rollups_status_month", "cashflow_rollups", ["status", "month"])
    op.drop_index("ix_cashflow_rollups_yearly", table_name="cashflow_rollups")
