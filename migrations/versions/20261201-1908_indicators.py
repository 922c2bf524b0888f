"""Indicators: definitions, each action's baseline, targets and actuals, and their change log

Revision ID: 627bf29a8c48
Revises: 5c1a9e7d3b20
Create Date: 2026-12-01 19:08:13.352599

Creates the tables of app/models/indicator.py (empty: nothing to backfill), then the functions
and triggers of app/models/sql/indicators.sql (frozen below): the per-action record's snapshot
for the change log, its statement-level capture, actuals never dated in the future, and a `sum`
indicator's values all in its unit. Downgrade drops them and the tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "627bf29a8c48"
down_revision: str | Sequence[str] | None = "5c1a9e7d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL = (
    """
CREATE FUNCTION public.relance_action_indicator_data(record action_indicators) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', record.id, 'action_id', record.action_id, 'indicator_id', record.indicator_id,
    'unit', record.unit,
    'baseline', CASE WHEN record.baseline_value IS NOT NULL THEN jsonb_build_object(
      'value', record.baseline_value::text, 'on', record.baseline_on) END,
    'targets', coalesce((SELECT jsonb_agg(jsonb_build_object('year', t.year,
                                                             'value', t.value::text)
                                          ORDER BY t.year)
                         FROM indicator_targets t WHERE t.action_indicator_id = record.id),
                        '[]'::jsonb),
    'actuals', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'on', a.measured_on, 'value', a.value::text,
                                  'partner_id', a.partner_id, 'external_ref', a.external_ref)
                                ORDER BY a.measured_on, a.id)
                         FROM indicator_actuals a WHERE a.action_indicator_id = record.id),
                        '[]'::jsonb),
    'created_at', record.created_at, 'updated_at', record.updated_at)
$$
""",
    """
CREATE FUNCTION public.relance_capture_action_indicators() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, like relance_capture_changes, but the snapshot includes the targets and
-- actuals, which the API writes before the record's row (their foreign keys are deferred), so
-- each write is one entry. Only a new version is a change: a programme that follows its action
-- (ON UPDATE CASCADE) changes nothing GET shows.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT 'action_indicators', r.id, 'create', r.version,
           relance_action_indicator_data(r), who, what
    FROM new_rows n JOIN action_indicators r ON r.id = n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT 'action_indicators', r.id, 'update', r.version,
           relance_action_indicator_data(r), who, what
    FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN action_indicators r ON r.id = n.id
    WHERE n.version <> o.version;
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT 'action_indicators', o.id, 'delete', o.version, who, what
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.indicator_actuals_not_in_future() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: one look at the statement's new rows, however many.
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE measured_on > current_date) THEN
    RAISE EXCEPTION 'an indicator value is dated in the future'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'indicator_actuals_on_not_in_future_check';
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.indicator_units_unmixed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- A `sum` indicator adds its actions' values up: all of them must be in its unit.
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n JOIN action_indicators r ON r.indicator_id = n.id
             WHERE n.aggregation = 'sum' AND r.unit <> n.unit) THEN
    RAISE EXCEPTION 'a sum indicator has values in another unit'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'indicators_units_unmixed_check';
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER indicators_capture_insert AFTER INSERT ON public.indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER indicators_capture_update AFTER UPDATE ON public.indicators
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER indicators_capture_delete AFTER DELETE ON public.indicators
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes()
""",
    """
CREATE TRIGGER indicators_units_unmixed AFTER UPDATE ON public.indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_units_unmixed()
""",
    """
CREATE TRIGGER action_indicators_capture_insert AFTER INSERT ON public.action_indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators()
""",
    """
CREATE TRIGGER action_indicators_capture_update AFTER UPDATE ON public.action_indicators
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators()
""",
    """
CREATE TRIGGER action_indicators_capture_delete AFTER DELETE ON public.action_indicators
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators()
""",
    """
CREATE TRIGGER indicator_actuals_not_in_future_insert AFTER INSERT ON public.indicator_actuals
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_actuals_not_in_future()
""",
    """
CREATE TRIGGER indicator_actuals_not_in_future_update AFTER UPDATE ON public.indicator_actuals
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_actuals_not_in_future()
""",
)

FUNCTIONS = (
    "relance_action_indicator_data(record action_indicators)",
    "relance_capture_action_indicators()",
    "indicator_actuals_not_in_future()",
    "indicator_units_unmixed()",
)
TRIGGERS = (
    ("indicators_capture_insert", "indicators"),
    ("indicators_capture_update", "indicators"),
    ("indicators_capture_delete", "indicators"),
    ("indicators_units_unmixed", "indicators"),
    ("action_indicators_capture_insert", "action_indicators"),
    ("action_indicators_capture_update", "action_indicators"),
    ("action_indicators_capture_delete", "action_indicators"),
    ("indicator_actuals_not_in_future_insert", "indicator_actuals"),
    ("indicator_actuals_not_in_future_update", "indicator_actuals"),
)


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "indicators",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("aggregation", sa.Text(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=True),
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
            "aggregation IN ('sum', 'none')", name=op.f("indicators_aggregation_known_check")
        ),
        sa.CheckConstraint(
            "code ~ '^[A-Za-z0-9_.-]{1,64}$'", name=op.f("indicators_code_format_check")
        ),
        sa.CheckConstraint(
            "direction IN ('increase', 'decrease')", name=op.f("indicators_direction_known_check")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("indicators_programme_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("indicators_pkey")),
        sa.UniqueConstraint("code", name=op.f("indicators_code_key")),
    )
    op.create_index(
        op.f("ix_indicators_programme_id"), "indicators", ["programme_id"], unique=False
    )
    op.create_table(
        "action_indicators",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("baseline_value", sa.Numeric(), nullable=True),
        sa.Column("baseline_on", sa.Date(), nullable=True),
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
            "(baseline_value IS NULL) = (baseline_on IS NULL)",
            name=op.f("action_indicators_baseline_complete_check"),
        ),
        sa.CheckConstraint(
            "scale(baseline_value) <= 4 AND abs(baseline_value) < 1e15",
            name=op.f("action_indicators_baseline_value_decimal_check"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id", "programme_id"],
            ["actions.id", "actions.programme_id"],
            name=op.f("action_indicators_action_id_programme_id_fkey"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("action_indicators_indicator_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("action_indicators_pkey")),
        sa.UniqueConstraint(
            "action_id", "indicator_id", name=op.f("action_indicators_action_id_indicator_id_key")
        ),
        sa.UniqueConstraint(
            "id", "programme_id", name=op.f("action_indicators_id_programme_id_key")
        ),
    )
    op.create_index(
        op.f("ix_action_indicators_action_id"), "action_indicators", ["action_id"], unique=False
    )
    op.create_index(
        op.f("ix_action_indicators_indicator_id"),
        "action_indicators",
        ["indicator_id"],
        unique=False,
    )
    op.create_table(
        "indicator_actuals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("action_indicator_id", sa.Uuid(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "external_ref <> ''", name=op.f("indicator_actuals_external_ref_not_empty_check")
        ),
        sa.CheckConstraint(
            "scale(value) <= 4 AND abs(value) < 1e15",
            name=op.f("indicator_actuals_value_decimal_check"),
        ),
        sa.ForeignKeyConstraint(
            ["action_indicator_id"],
            ["action_indicators.id"],
            name=op.f("indicator_actuals_action_indicator_id_fkey"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("indicator_actuals_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("indicator_actuals_pkey")),
        sa.UniqueConstraint(
            "partner_id", "external_ref", name=op.f("indicator_actuals_partner_id_external_ref_key")
        ),
    )
    op.create_index(
        op.f("ix_indicator_actuals_partner_id"), "indicator_actuals", ["partner_id"], unique=False
    )
    op.create_index(
        "ix_indicator_actuals_record_on",
        "indicator_actuals",
        ["action_indicator_id", "measured_on", "id"],
        unique=False,
    )
    op.create_table(
        "indicator_targets",
        sa.Column("action_indicator_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.CheckConstraint(
            "scale(value) <= 4 AND abs(value) < 1e15",
            name=op.f("indicator_targets_value_decimal_check"),
        ),
        sa.ForeignKeyConstraint(
            ["action_indicator_id", "programme_id"],
            ["action_indicators.id", "action_indicators.programme_id"],
            name=op.f("indicator_targets_action_indicator_id_programme_id_fkey"),
            onupdate="CASCADE",
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["programme_id", "year"],
            ["programme_years.programme_id", "programme_years.year"],
            name=op.f("indicator_targets_programme_id_year_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("action_indicator_id", "year", name=op.f("indicator_targets_pkey")),
    )
    for statement in SQL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON public.{table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION public.{function}")
    op.drop_table("indicator_targets")
    op.drop_index("ix_indicator_actuals_record_on", table_name="indicator_actuals")
    op.drop_index(op.f("ix_indicator_actuals_partner_id"), table_name="indicator_actuals")
    op.drop_table("indicator_actuals")
    op.drop_index(op.f("ix_action_indicators_indicator_id"), table_name="action_indicators")
    op.drop_index(op.f("ix_action_indicators_action_id"), table_name="action_indicators")
    op.drop_table("action_indicators")
    op.drop_index(op.f("ix_indicators_programme_id"), table_name="indicators")
    op.drop_table("indicators")
