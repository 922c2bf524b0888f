"""Programmes as a resource: the programmes table, and priorities and chantiers attached to one

Revision ID: 5c2f9a1d7e40
Revises: 748477131bf2
Create Date: 2026-12-01 11:45:00.000000

Existing databases get one programme, made from the settings' period (PROGRAMME__START_YEAR,
PROGRAMME__END_YEAR, PROGRAMME__CODE), and every priority and chantier is attached to it. The
columns are added with that programme's id as a constant default (no table rewrite, no row
update: no change-log entry), then the default is dropped. Downgrade drops the columns and the
table and the programmes' own change-log entries; every other row stays as it was. History
entries of priorities and chantiers gain (and on downgrade lose) that `programme_id`.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "5c2f9a1d7e40"
down_revision: str | Sequence[str] | None = "748477131bf2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
OWNED = ("priorities", "chantiers")


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "programmes",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("start_year", sa.Integer(), nullable=False),
        sa.Column("end_year", sa.Integer(), nullable=False),
        sa.Column("territory_code", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("start_year <= end_year", name=op.f("programmes_years_ordered_check")),
        sa.CheckConstraint(
            "start_year BETWEEN 1900 AND 2200", name=op.f("programmes_start_year_range_check")
        ),
        sa.CheckConstraint(
            "end_year BETWEEN 1900 AND 2200", name=op.f("programmes_end_year_range_check")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'closed')", name=op.f("programmes_status_known_check")
        ),
        sa.CheckConstraint(
            "territory_code ~ '^([0-9]{9}|[0-9][0-9AB][0-9]{3})$'",
            name=op.f("programmes_territory_code_format_check"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("programmes_pkey")),
        sa.UniqueConstraint("code", name=op.f("programmes_code_key")),
    )
    for op_name, referencing in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER programmes_capture_{op_name} AFTER {op_name.upper()} "
            f"ON public.programmes {referencing} "
            "FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()"
        )
    period = get_settings().programme
    first = uuid.uuid4()
    op.get_bind().execute(
        sa.text(
            "INSERT INTO programmes (id, code, name, start_year, end_year, territory_code, version)"
            " VALUES (:id, :code, :name, :start, :end, :territory, 1)"
        ),
        {
            "id": first,
            "code": period.first_code,
            "name": "Aix-Marseille-Provence Relance et Renouveau",
            "start": period.start_year,
            "end": period.end_year,
            "territory": "200054807",
        },
    )
    for table in OWNED:
        # A constant default: existing rows take it without a rewrite or an UPDATE.
        op.add_column(
            table,
            sa.Column("programme_id", sa.Uuid(), server_default=str(first), nullable=False),
        )
        op.alter_column(table, "programme_id", server_default=None)
        op.create_index(op.f(f"ix_{table}_programme_id"), table, ["programme_id"])
        op.create_foreign_key(
            op.f(f"{table}_programme_id_fkey"),
            table,
            "programmes",
            ["programme_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    # Their history shows them in that programme from the start, as GET now does.
    op.get_bind().execute(
        sa.text(
            "UPDATE changes"
            " SET data = data || jsonb_build_object('programme_id', CAST(:id AS text))"
            " WHERE resource IN ('priorities', 'chantiers') AND data IS NOT NULL"
        ),
        {"id": str(first)},
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for table in OWNED:
        op.drop_constraint(op.f(f"{table}_programme_id_fkey"), table, type_="foreignkey")
        op.drop_index(op.f(f"ix_{table}_programme_id"), table_name=table)
        op.drop_column(table, "programme_id")
    op.drop_table("programmes")
    # The programmes' own entries go, with the transactions that logged nothing else.
    op.execute(
        "DELETE FROM change_commits cc WHERE EXISTS (SELECT FROM changes c"
        " WHERE c.txid = cc.txid AND c.resource = 'programmes') AND NOT EXISTS (SELECT FROM"
        " changes c WHERE c.txid = cc.txid AND c.resource <> 'programmes')"
    )
    op.execute("DELETE FROM changes WHERE resource = 'programmes'")
    op.execute(
        "UPDATE changes SET data = data - 'programme_id'"
        " WHERE resource IN ('priorities', 'chantiers') AND data IS NOT NULL"
    )
