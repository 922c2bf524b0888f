"""Territories: the territorial referential (communes, EPCI, départements, régions) and its loads

Revision ID: 4263f2a18007
Revises: e1f2a3b4c5d6
Create Date: 2026-12-01 10:18:34.836104

Reference data loaded by `relance seed` from app/territories/data/ (no change-feed or history
triggers: it is not written through the API). Keyed by (kind, code), since codes repeat across
kinds (région 93 and département 93).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4263f2a18007"
down_revision: str | None = "e1f2a3b4c5d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "'commune', 'arrondissement_municipal', 'commune_deleguee', 'commune_associee', "
    "'epci', 'departement', 'region'"
)
COMMUNE_LIKE = "('commune', 'arrondissement_municipal', 'commune_deleguee', 'commune_associee')"
PARENT_COLUMNS = ("code", "commune_code", "epci_code", "departement_code", "region_code")


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "territories",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("search_name", sa.Text(), nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("epci_type", sa.Text(), nullable=True),
        sa.Column("commune_code", sa.Text(), nullable=True),
        sa.Column("epci_code", sa.Text(), nullable=True),
        sa.Column("departement_code", sa.Text(), nullable=True),
        sa.Column("region_code", sa.Text(), nullable=True),
        sa.Column("vintage", sa.Text(), nullable=False),
        sa.Column("current", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("territories_kind_known_check")),
        sa.CheckConstraint(
            f"(kind IN {COMMUNE_LIKE} AND code ~ '^[0-9][0-9AB][0-9]{{3}}$')"
            " OR (kind = 'epci' AND code ~ '^[0-9]{9}$')"
            " OR (kind = 'departement' AND code ~ '^[0-9][0-9AB][0-9]?$')"
            " OR (kind = 'region' AND code ~ '^[0-9]{2,3}$')",
            name=op.f("territories_code_format_check"),
        ),
        sa.CheckConstraint(
            "name <> '' AND search_name <> ''", name=op.f("territories_name_not_empty_check")
        ),
        sa.CheckConstraint("siren ~ '^[0-9]{9}$'", name=op.f("territories_siren_format_check")),
        sa.CheckConstraint(
            "population >= 0", name=op.f("territories_population_non_negative_check")
        ),
        sa.CheckConstraint(
            "(kind = 'epci') = (epci_type IS NOT NULL)",
            name=op.f("territories_epci_type_epci_only_check"),
        ),
        sa.CheckConstraint(
            "(kind IN ('arrondissement_municipal', 'commune_deleguee', 'commune_associee'))"
            " = (commune_code IS NOT NULL)",
            name=op.f("territories_commune_code_when_inside_commune_check"),
        ),
        sa.CheckConstraint("vintage ~ '^[0-9]{4}$'", name=op.f("territories_vintage_format_check")),
        sa.PrimaryKeyConstraint("kind", "code", name=op.f("territories_pkey")),
    )
    for column in PARENT_COLUMNS:
        op.create_index(op.f(f"ix_territories_{column}"), "territories", [column])
    op.create_table(
        "territory_sources",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("vintage", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("territory_sources_sha256_format_check")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("territory_sources_pkey")),
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("territory_sources")
    for column in PARENT_COLUMNS:
        op.drop_index(op.f(f"ix_territories_{column}"), table_name="territories")
    op.drop_table("territories")
