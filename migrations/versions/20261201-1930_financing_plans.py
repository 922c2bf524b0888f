"""Financing plans: an action's costs and who pays which share, checked by the database

Revision ID: 7f3e1b9c2a64
Revises: 5c1a9e7d3b20
Create Date: 2026-12-01 19:30:00.000000

New, empty tables `financing_plans` (one per action, its id the action's; eligible cost within
the total cost) and `financing_plan_lines` (a partner's amount through an instrument, one line
per partner and instrument). The rules of app/models/sql/financing.sql, frozen below: the lines
never sum above the eligible cost and the lead partner has a line (checked at commit, the plan
row locked), the plan's version moves with its lines and with the committed commitments it
reads its secured money from, and each transaction that moved it logs one change at commit.
Downgrade drops the triggers, functions and tables, and the plans' entries of the change log
(the previous revision has no financing plans).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7f3e1b9c2a64"
down_revision: str | Sequence[str] | None = "5c1a9e7d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = (
    """
CREATE FUNCTION public.relance_financing_plan_data(plan financing_plans) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  WITH lines AS (
    SELECT l.partner_id, l.instrument, l.amount,
           coalesce((SELECT sum(c.amount) FROM commitments c
                     WHERE c.action_id = l.action_id AND c.partner_id = l.partner_id
                       AND c.instrument = l.instrument AND c.status = 'committed'), 0) AS secured
    FROM financing_plan_lines l
    WHERE l.action_id = plan.action_id
  ), totals AS (
    SELECT coalesce(sum(amount), 0) AS planned, coalesce(sum(secured), 0) AS secured,
           coalesce(sum(greatest(amount - secured, 0)), 0) AS unsecured,
           sum(amount) FILTER (WHERE partner_id = plan.lead_partner_id) AS lead_amount
    FROM lines
  ), units AS (
    SELECT l.partner_id, l.instrument, trunc(l.amount * 10000 / plan.eligible_cost) AS units,
           sum(trunc(l.amount * 10000 / plan.eligible_cost)) OVER () AS units_total,
           row_number() OVER (ORDER BY l.amount * 10000 / plan.eligible_cost
                                       - trunc(l.amount * 10000 / plan.eligible_cost) DESC,
                                       l.partner_id, l.instrument) AS rank
    FROM lines l
    WHERE plan.eligible_cost > 0
  ), shares AS (
    SELECT u.partner_id, u.instrument,
           round((u.units + CASE WHEN u.rank <= round(t.planned * 10000 / plan.eligible_cost)
                                                - u.units_total THEN 1 ELSE 0 END) / 10000, 4)
             AS share
    FROM units u CROSS JOIN totals t
  )
  SELECT jsonb_build_object(
    'id', plan.action_id,
    'action_id', plan.action_id,
    'total_cost', plan.total_cost::text,
    'eligible_cost', plan.eligible_cost::text,
    'lead_partner_id', plan.lead_partner_id,
    'planned', t.planned::text,
    'secured', t.secured::text,
    'unsecured', t.unsecured::text,
    'gap', (plan.eligible_cost - t.planned)::text,
    'leverage', CASE WHEN t.lead_amount > 0
                     THEN round((t.planned - t.lead_amount) / t.lead_amount, 6)::text END,
    'lines', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                 'partner_id', l.partner_id, 'instrument', l.instrument,
                                 'amount', l.amount::text, 'share', s.share::text,
                                 'secured', l.secured::text,
                                 'unsecured', greatest(l.amount - l.secured, 0)::text)
                               ORDER BY l.partner_id, l.instrument)
                       FROM lines l
                       LEFT JOIN shares s
                         ON s.partner_id = l.partner_id AND s.instrument = l.instrument),
                      '[]'::jsonb),
    'created_at', to_char(plan.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'updated_at', to_char(plan.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
  FROM totals t
$$
""",
    """
CREATE FUNCTION public.financing_plans_check() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level, deferred to commit, on the plan and on its lines. The plan row is locked before
-- the lines are summed: a concurrent writer of the same plan waits here until this one
-- commits, then sums in a new snapshot that includes its lines (READ COMMITTED). NO KEY
-- UPDATE: the key share a new line's foreign key holds on the plan does not block it.
DECLARE
  plan_id uuid;
  eligible numeric;
  lead uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN
    plan_id := OLD.action_id;
  ELSE
    plan_id := NEW.action_id;
  END IF;
  SELECT p.eligible_cost, p.lead_partner_id INTO eligible, lead
  FROM financing_plans p WHERE p.action_id = plan_id
  FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;  -- deleted with its action or its plan
  END IF;
  IF (SELECT coalesce(sum(l.amount), 0) FROM financing_plan_lines l
      WHERE l.action_id = plan_id) > eligible THEN
    RAISE EXCEPTION 'a financing plan''s lines would sum above its eligible cost'
      USING ERRCODE = 'check_violation', TABLE = 'financing_plan_lines',
            CONSTRAINT = 'financing_plan_lines_within_eligible_check';
  END IF;
  IF lead IS NOT NULL AND NOT EXISTS (SELECT FROM financing_plan_lines l
                                      WHERE l.action_id = plan_id AND l.partner_id = lead) THEN
    RAISE EXCEPTION 'a financing plan''s lead partner has no line in it'
      USING ERRCODE = 'check_violation', TABLE = 'financing_plans',
            CONSTRAINT = 'financing_plans_lead_among_lines_check';
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.financing_plan_lines_touch_plans() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level on the lines: their plans' representation changed. The API replaces a plan's
-- lines in two statements and moves the version once itself: it sets
-- relance.financing_plan_writing for those two statements (as payments.sql's reconciling).
BEGIN
  IF current_setting('relance.financing_plan_writing', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (SELECT n.action_id FROM new_rows n);
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (SELECT n.action_id FROM new_rows n
                          UNION SELECT o.action_id FROM old_rows o);
  ELSE
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (SELECT o.action_id FROM old_rows o);
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.commitments_touch_financing_plans() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level on commitments: the plans whose secured money a statement moved (a committed
-- commitment created, deleted, or changed in amount, status, action, partner or instrument,
-- matching one of the plan's lines) get a new version; one UPDATE, whatever the statement's size.
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (
      SELECT l.action_id FROM new_rows n
      JOIN financing_plan_lines l
        ON l.action_id = n.action_id AND l.partner_id = n.partner_id
       AND l.instrument = n.instrument
      WHERE n.status = 'committed');
  ELSIF TG_OP = 'UPDATE' THEN
    WITH moved AS (
      SELECT n.action_id AS new_action, n.partner_id AS new_partner,
             n.instrument AS new_instrument, n.status AS new_status,
             o.action_id AS old_action, o.partner_id AS old_partner,
             o.instrument AS old_instrument, o.status AS old_status
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.status = 'committed' OR o.status = 'committed')
        AND (n.action_id, n.partner_id, n.instrument, n.amount, n.status)
            IS DISTINCT FROM (o.action_id, o.partner_id, o.instrument, o.amount, o.status)
    ), sides AS (
      SELECT new_action AS action_id, new_partner AS partner_id, new_instrument AS instrument
      FROM moved WHERE new_status = 'committed'
      UNION
      SELECT old_action, old_partner, old_instrument FROM moved WHERE old_status = 'committed'
    )
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (
      SELECT l.action_id FROM sides s
      JOIN financing_plan_lines l
        ON l.action_id = s.action_id AND l.partner_id = s.partner_id
       AND l.instrument = s.instrument);
  ELSE
    UPDATE financing_plans p SET version = p.version + 1, updated_at = now()
    WHERE p.action_id IN (
      SELECT l.action_id FROM old_rows o
      JOIN financing_plan_lines l
        ON l.action_id = o.action_id AND l.partner_id = o.partner_id
       AND l.instrument = o.instrument
      WHERE o.status = 'committed');
  END IF;
  RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION public.relance_capture_financing_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level and deferred to commit, like a chantier's capture: the lines are written after the
-- plan row, and commitments move its secured money, so the snapshot is taken once the
-- transaction's writes are done. Several events of one transaction log its last state once:
-- nothing is added when the last entry already has the plan's current version.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
  plan financing_plans;
  last_version integer;
  last_op text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    VALUES ('financing_plans', OLD.action_id, 'delete', OLD.version, who, what);
    RETURN NULL;
  END IF;
  SELECT * INTO plan FROM financing_plans p WHERE p.action_id = NEW.action_id;
  IF NOT FOUND THEN
    RETURN NULL;  -- deleted later in the transaction: its delete is logged
  END IF;
  SELECT c.version, c.op INTO last_version, last_op FROM changes c
  WHERE c.resource_id = plan.action_id AND c.resource = 'financing_plans'
  ORDER BY c.id DESC LIMIT 1;
  IF last_op IS DISTINCT FROM 'delete' AND last_version = plan.version THEN
    RETURN NULL;
  END IF;
  INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
  VALUES ('financing_plans', plan.action_id,
          CASE WHEN last_op IS NULL OR last_op = 'delete' THEN 'create' ELSE 'update' END,
          plan.version, relance_financing_plan_data(plan), who, what);
  RETURN NULL;
END
$$
""",
)

TRIGGERS = (
    """
CREATE CONSTRAINT TRIGGER financing_plans_check_insert AFTER INSERT ON public.financing_plans
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION financing_plans_check()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plans_check_update
  AFTER UPDATE OF eligible_cost, lead_partner_id ON public.financing_plans
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION financing_plans_check()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plan_lines_check_insert
  AFTER INSERT ON public.financing_plan_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION financing_plans_check()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plan_lines_check_update
  AFTER UPDATE ON public.financing_plan_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION financing_plans_check()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plan_lines_check_delete
  AFTER DELETE ON public.financing_plan_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION financing_plans_check()
""",
    """
CREATE TRIGGER financing_plan_lines_touch_insert AFTER INSERT ON public.financing_plan_lines
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION financing_plan_lines_touch_plans()
""",
    """
CREATE TRIGGER financing_plan_lines_touch_update AFTER UPDATE ON public.financing_plan_lines
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION financing_plan_lines_touch_plans()
""",
    """
CREATE TRIGGER financing_plan_lines_touch_delete AFTER DELETE ON public.financing_plan_lines
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION financing_plan_lines_touch_plans()
""",
    """
CREATE TRIGGER commitments_financing_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_touch_financing_plans()
""",
    """
CREATE TRIGGER commitments_financing_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_touch_financing_plans()
""",
    """
CREATE TRIGGER commitments_financing_delete AFTER DELETE ON public.commitments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitments_touch_financing_plans()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plans_capture_insert AFTER INSERT ON public.financing_plans
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION relance_capture_financing_plan()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plans_capture_update AFTER UPDATE ON public.financing_plans
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION relance_capture_financing_plan()
""",
    """
CREATE CONSTRAINT TRIGGER financing_plans_capture_delete AFTER DELETE ON public.financing_plans
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION relance_capture_financing_plan()
""",
)

TRIGGER_NAMES = (
    ("financing_plans_check_insert", "financing_plans"),
    ("financing_plans_check_update", "financing_plans"),
    ("financing_plan_lines_check_insert", "financing_plan_lines"),
    ("financing_plan_lines_check_update", "financing_plan_lines"),
    ("financing_plan_lines_check_delete", "financing_plan_lines"),
    ("financing_plan_lines_touch_insert", "financing_plan_lines"),
    ("financing_plan_lines_touch_update", "financing_plan_lines"),
    ("financing_plan_lines_touch_delete", "financing_plan_lines"),
    ("commitments_financing_insert", "commitments"),
    ("commitments_financing_update", "commitments"),
    ("commitments_financing_delete", "commitments"),
    ("financing_plans_capture_insert", "financing_plans"),
    ("financing_plans_capture_update", "financing_plans"),
    ("financing_plans_capture_delete", "financing_plans"),
)
FUNCTION_SIGNATURES = (
    "relance_financing_plan_data(financing_plans)",
    "financing_plans_check()",
    "financing_plan_lines_touch_plans()",
    "commitments_touch_financing_plans()",
    "relance_capture_financing_plan()",
)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
        for name in ("created_at", "updated_at")
    ]


def upgrade() -> None:
    # Give up after 5 s waiting for a lock rather than queue every query of the service behind
    # this migration; run it again when the table is quieter.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "financing_plans",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("eligible_cost", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("lead_partner_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "eligible_cost <= total_cost", name=op.f("financing_plans_eligible_within_total_check")
        ),
        sa.CheckConstraint(
            "eligible_cost >= 0", name=op.f("financing_plans_eligible_cost_non_negative_check")
        ),
        sa.CheckConstraint(
            "total_cost >= 0", name=op.f("financing_plans_total_cost_non_negative_check")
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("financing_plans_action_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_partner_id"],
            ["partners.id"],
            name=op.f("financing_plans_lead_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("action_id", name=op.f("financing_plans_pkey")),
    )
    op.create_index(
        op.f("ix_financing_plans_lead_partner_id"), "financing_plans", ["lead_partner_id"]
    )
    op.create_table(
        "financing_plan_lines",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("financing_plan_lines_amount_positive_check")),
        sa.CheckConstraint(
            "instrument IN ('grant', 'loan', 'equity', 'guarantee', 'own_funds', 'engineering')",
            name=op.f("financing_plan_lines_instrument_known_check"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["financing_plans.action_id"],
            name=op.f("financing_plan_lines_action_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("financing_plan_lines_partner_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "action_id", "partner_id", "instrument", name=op.f("financing_plan_lines_pkey")
        ),
    )
    op.create_index(
        op.f("ix_financing_plan_lines_partner_id"), "financing_plan_lines", ["partner_id"]
    )
    for statement in (*FUNCTIONS, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for name, table in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER {name} ON public.{table}")
    for function in FUNCTION_SIGNATURES:
        op.execute(f"DROP FUNCTION public.{function}")
    op.drop_table("financing_plan_lines")
    op.drop_table("financing_plans")
    op.execute("DELETE FROM changes WHERE resource = 'financing_plans'")
