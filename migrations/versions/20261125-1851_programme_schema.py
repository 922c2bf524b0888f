"""Programme schema: priorities, chantiers, actions, partners, commitments, api keys

Revision ID: 42dfebcb87a4
Revises:
Create Date: 2026-11-25 18:51:08.785053
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "42dfebcb87a4"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chantiers",
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
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
        sa.CheckConstraint("number > 0", name=op.f("chantiers_number_positive_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("chantiers_pkey")),
        sa.UniqueConstraint("code", name=op.f("chantiers_code_key")),
        sa.UniqueConstraint("number", name=op.f("chantiers_number_key")),
    )
    op.create_table(
        "partners",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=True),
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
        sa.CheckConstraint("code ~ '^[A-Z0-9_]{2,32}$'", name=op.f("partners_code_format_check")),
        sa.CheckConstraint(
            "kind IN ('metropole', 'commune', 'department', 'region', 'state', 'public_bank',"
            " 'eu', 'private', 'other')",
            name=op.f("partners_kind_known_check"),
        ),
        sa.CheckConstraint("siren ~ '^[0-9]{9}$'", name=op.f("partners_siren_format_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("partners_pkey")),
        sa.UniqueConstraint("code", name=op.f("partners_code_key")),
        sa.UniqueConstraint("siren", name=op.f("partners_siren_key")),
    )
    op.create_table(
        "priorities",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("priorities_pkey")),
        sa.UniqueConstraint("code", name=op.f("priorities_code_key")),
    )
    op.create_table(
        "programme_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.CheckConstraint(
            "year BETWEEN 1900 AND 2200", name=op.f("programme_years_year_range_check")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("programme_years_pkey")),
    )
    op.create_table(
        "actions",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="planned", nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("weight", sa.Integer(), server_default="1", nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("communes", sa.ARRAY(sa.String(length=5)), server_default="{}", nullable=False),
        sa.Column("lead_partner_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
            "array_to_string(communes, ',') ~ '^((\\d{5}|2[AB]\\d{3})(,|$))*$'",
            name=op.f("actions_communes_insee_check"),
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'in_progress', 'completed', 'cancelled')",
            name=op.f("actions_status_known_check"),
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("actions_dates_ordered_check")),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("actions_progress_range_check")),
        sa.CheckConstraint("weight >= 0", name=op.f("actions_weight_non_negative_check")),
        sa.ForeignKeyConstraint(
            ["chantier_id"],
            ["chantiers.id"],
            name=op.f("actions_chantier_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["lead_partner_id"],
            ["partners.id"],
            name=op.f("actions_lead_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("actions_pkey")),
        sa.UniqueConstraint("code", name=op.f("actions_code_key")),
        sa.UniqueConstraint("external_id", name=op.f("actions_external_id_key")),
    )
    op.create_index(op.f("ix_actions_chantier_id"), "actions", ["chantier_id"], unique=False)
    op.create_index(
        op.f("ix_actions_lead_partner_id"), "actions", ["lead_partner_id"], unique=False
    )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
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
            "(role = 'partner') = (partner_id IS NOT NULL)",
            name=op.f("api_keys_partner_role_check"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'editor', 'partner')", name=op.f("api_keys_role_known_check")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("api_keys_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("api_keys_pkey")),
        sa.UniqueConstraint("prefix", name=op.f("api_keys_prefix_key")),
    )
    op.create_index(op.f("ix_api_keys_partner_id"), "api_keys", ["partner_id"], unique=False)
    op.create_table(
        "chantier_priorities",
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("priority_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chantier_id"],
            ["chantiers.id"],
            name=op.f("chantier_priorities_chantier_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["priority_id"],
            ["priorities.id"],
            name=op.f("chantier_priorities_priority_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "chantier_id", "priority_id", name=op.f("chantier_priorities_pkey")
        ),
    )
    op.create_index(
        op.f("ix_chantier_priorities_priority_id"),
        "chantier_priorities",
        ["priority_id"],
        unique=False,
    )
    op.create_table(
        "chantier_targets",
        sa.Column("chantier_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("chantier_targets_amount_positive_check")),
        sa.ForeignKeyConstraint(
            ["chantier_id"],
            ["chantiers.id"],
            name=op.f("chantier_targets_chantier_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["year"],
            ["programme_years.year"],
            name=op.f("chantier_targets_year_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("chantier_id", "year", name=op.f("chantier_targets_pkey")),
    )
    op.create_table(
        "commitments",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column(
            "disbursed_amount",
            sa.Numeric(precision=15, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="planned", nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
            "instrument IN ('grant', 'loan', 'equity', 'guarantee', 'own_funds', 'engineering')",
            name=op.f("commitments_instrument_known_check"),
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'committed', 'cancelled')",
            name=op.f("commitments_status_known_check"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("commitments_amount_positive_check")),
        sa.CheckConstraint(
            "disbursed_amount >= 0 AND disbursed_amount <= amount",
            name=op.f("commitments_disbursed_within_amount_check"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("commitments_action_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("commitments_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["year"],
            ["programme_years.year"],
            name=op.f("commitments_year_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("commitments_pkey")),
        sa.UniqueConstraint(
            "partner_id", "external_ref", name=op.f("commitments_partner_id_external_ref_key")
        ),
    )
    op.create_index(op.f("ix_commitments_action_id"), "commitments", ["action_id"], unique=False)
    op.create_index(op.f("ix_commitments_partner_id"), "commitments", ["partner_id"], unique=False)
    op.create_index(op.f("ix_commitments_year"), "commitments", ["year"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_commitments_year"), table_name="commitments")
    op.drop_index(op.f("ix_commitments_partner_id"), table_name="commitments")
    op.drop_index(op.f("ix_commitments_action_id"), table_name="commitments")
    op.drop_table("commitments")
    op.drop_table("chantier_targets")
    op.drop_index(op.f("ix_chantier_priorities_priority_id"), table_name="chantier_priorities")
    op.drop_table("chantier_priorities")
    op.drop_index(op.f("ix_api_keys_partner_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_actions_lead_partner_id"), table_name="actions")
    op.drop_index(op.f("ix_actions_chantier_id"), table_name="actions")
    op.drop_table("actions")
    op.drop_table("programme_years")
    op.drop_table("priorities")
    op.drop_table("partners")
    op.drop_table("chantiers")
