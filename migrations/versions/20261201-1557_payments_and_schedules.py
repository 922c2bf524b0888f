"""Payments and schedules: the tables of money over time

Revision ID: fa3634a3b29d
Revises: d0751f7d6994
Create Date: 2026-12-01 15:57:50.591813

New, empty tables: `payments` (dated money on a commitment, its partner copied from the
commitment so that a partner's `external_ref` is unique among its own payments),
`schedule_lines` (a commitment's current schedule, year by year) and `schedule_versions` (every
version of a schedule as written). Commitments gain a unique (id, partner_id), the target of
the payments' composite foreign key. The rules that bind them (sums, derived totals, roll-ups)
come with the revisions that follow. Downgrade drops the tables and the constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "fa3634a3b29d"
down_revision: str | Sequence[str] | None = "d0751f7d6994"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_unique_constraint(
        op.f("commitments_id_partner_id_key"), "commitments", ["id", "partner_id"]
    )
    op.create_table(
        "payments",
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), server_default=sa.FetchedValue(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'adjustment' AND amount <> 0) OR (kind <> 'adjustment' AND amount > 0)",
            name=op.f("payments_amount_signed_by_kind_check"),
        ),
        sa.CheckConstraint(
            "external_ref <> ''", name=op.f("payments_external_ref_not_empty_check")
        ),
        sa.CheckConstraint(
            "kind IN ('disbursement', 'reversal', 'adjustment')",
            name=op.f("payments_kind_known_check"),
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id", "partner_id"],
            ["commitments.id", "commitments.partner_id"],
            name=op.f("payments_commitment_id_partner_id_fkey"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("payments_pkey")),
        sa.UniqueConstraint(
            "partner_id", "external_ref", name=op.f("payments_partner_id_external_ref_key")
        ),
    )
    op.create_index(
        "ix_payments_commitment_id_paid_on",
        "payments",
        ["commitment_id", "paid_on", "id"],
        unique=False,
    )
    op.create_index("ix_payments_created_at_id", "payments", ["created_at", "id"], unique=False)
    op.create_table(
        "schedule_lines",
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("schedule_lines_amount_positive_check")),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("schedule_lines_commitment_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", "year", name=op.f("schedule_lines_pkey")),
    )
    op.create_table(
        "schedule_versions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(number = 1) = (kind = 'initial')",
            name=op.f("schedule_versions_first_is_initial_check"),
        ),
        sa.CheckConstraint(
            "kind IN ('initial', 'revised')", name=op.f("schedule_versions_kind_known_check")
        ),
        sa.CheckConstraint("number >= 1", name=op.f("schedule_versions_number_positive_check")),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("schedule_versions_commitment_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("schedule_versions_pkey")),
        sa.UniqueConstraint(
            "commitment_id", "number", name=op.f("schedule_versions_commitment_id_number_key")
        ),
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("schedule_versions")
    op.drop_table("schedule_lines")
    op.drop_index("ix_payments_created_at_id", table_name="payments")
    op.drop_index("ix_payments_commitment_id_paid_on", table_name="payments")
    op.drop_table("payments")
    op.drop_constraint(op.f("commitments_id_partner_id_key"), "commitments", type_="unique")
