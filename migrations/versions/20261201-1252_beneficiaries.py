"""Beneficiaries of commitments and the partners' SIRET

Revision ID: 3376994bfac4
Revises: 7a3e5b9c1d24
Create Date: 2026-12-01 12:52:04.678008

Commitments gain who receives the money (beneficiary_name, beneficiary_siret,
beneficiary_rna), the decision granting it (decision_ref) and eu_notified; partners gain the
siret that signs their grants. All nullable or with a constant default: no table rewrite, no
change-log entry. History entries gain the new fields with the values the rows now have, so
that history shows what GET shows; downgrade removes them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3376994bfac4"
down_revision: str | Sequence[str] | None = "7a3e5b9c1d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMITMENT_FIELDS = (
    "beneficiary_name",
    "beneficiary_siret",
    "beneficiary_rna",
    "decision_ref",
    "eu_notified",
)
COMMITMENT_CHECKS = {
    "beneficiary_siret_format": "beneficiary_siret ~ '^[0-9]{14}$'",
    "beneficiary_rna_format": "beneficiary_rna ~ '^W[0-9]{9}$'",
    "beneficiary_name_not_empty": "beneficiary_name <> ''",
    "decision_ref_not_empty": "decision_ref <> ''",
}
PARTNER_CHECKS = {
    "siret_format": "siret ~ '^[0-9]{14}$'",
    "siret_of_siren": "left(siret, 9) = siren",
}


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("commitments", sa.Column("beneficiary_name", sa.Text(), nullable=True))
    op.add_column(
        "commitments", sa.Column("beneficiary_siret", sa.String(length=14), nullable=True)
    )
    op.add_column("commitments", sa.Column("beneficiary_rna", sa.String(length=10), nullable=True))
    op.add_column("commitments", sa.Column("decision_ref", sa.Text(), nullable=True))
    op.add_column(
        "commitments",
        sa.Column("eu_notified", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    for name, condition in COMMITMENT_CHECKS.items():
        op.create_check_constraint(op.f(f"commitments_{name}_check"), "commitments", condition)
    op.add_column("partners", sa.Column("siret", sa.String(length=14), nullable=True))
    op.create_unique_constraint(op.f("partners_siret_key"), "partners", ["siret"])
    for name, condition in PARTNER_CHECKS.items():
        op.create_check_constraint(op.f(f"partners_{name}_check"), "partners", condition)
    op.execute(
        "UPDATE changes SET data = data || jsonb_build_object("
        "'beneficiary_name', NULL, 'beneficiary_siret', NULL, 'beneficiary_rna', NULL,"
        " 'decision_ref', NULL, 'eu_notified', false)"
        " WHERE resource = 'commitments' AND data IS NOT NULL"
    )
    op.execute(
        "UPDATE changes SET data = data || jsonb_build_object('siret', NULL)"
        " WHERE resource = 'partners' AND data IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "UPDATE changes SET data = data - 'siret' WHERE resource = 'partners' AND data IS NOT NULL"
    )
    op.execute(
        f"UPDATE changes SET data = data - '{{{','.join(COMMITMENT_FIELDS)}}}'::text[]"
        " WHERE resource = 'commitments' AND data IS NOT NULL"
    )
    for name in PARTNER_CHECKS:
        op.drop_constraint(op.f(f"partners_{name}_check"), "partners", type_="check")
    op.drop_constraint(op.f("partners_siret_key"), "partners", type_="unique")
    op.drop_column("partners", "siret")
    for name in COMMITMENT_CHECKS:
        op.drop_constraint(op.f(f"commitments_{name}_check"), "commitments", type_="check")
    for field in reversed(COMMITMENT_FIELDS):
        op.drop_column("commitments", field)
