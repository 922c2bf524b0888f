"""What the late-filter plan test and benchmark share: 20,000 actions with 100,000 milestones,
and the statements that read lateness as the API runs them (tests/milestones/test_plan.py,
bench/late.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from app.milestones.repository import late_filter
from app.models import Action
from app.reporting.summaries import LATE_ACTIONS, PROGRESS

INDEX = "ix_milestones_open_action_id_due_on"

# Five milestones per action, as a programme's would be: most met, some ahead, a few missed or
# overdue (about one action in eight is late).
LOAD = """
WITH ch AS (SELECT id FROM chantiers ORDER BY number LIMIT 8),
made AS (
  INSERT INTO actions (code, chantier_id, title, version)
  SELECT 'PLAN-' || g, (SELECT id FROM ch OFFSET g % 8 LIMIT 1), 'Action ' || g, 1
  FROM generate_series(1, 20000) AS g
  RETURNING id, code
)
INSERT INTO milestones (action_id, title, kind, due_on, met_on, status, version)
SELECT m.id, 'Jalon ' || k, 'other', d.due_on,
       CASE WHEN d.status = 'met' THEN d.due_on + 3 END, d.status, 1
FROM made m
CROSS JOIN generate_series(1, 5) AS k
CROSS JOIN LATERAL (
  SELECT CASE WHEN (hashtext(m.code) & 1023) % 60 = k THEN 'missed'
              WHEN k <= 3 THEN 'met'
              WHEN (hashtext(m.code || k) & 1023) % 50 = 0 THEN 'cancelled'
              ELSE 'scheduled' END AS status,
         CASE WHEN k <= 3 THEN current_date - 400 + 100 * k
              WHEN (hashtext(m.code) & 1023) % 30 = 0 THEN current_date - 10
              ELSE current_date + 30 * k END AS due_on
) AS d
"""


def sql_of(stmt: Select[Any], **params: Any) -> str:
    """The statement as the API runs it, its parameters written in (EXPLAIN takes no binds)."""
    bound = stmt.params(**params) if params else stmt
    return str(
        bound.compile(
            dialect=PGDialect_psycopg(),  # type: ignore[no-untyped-call]
            compile_kwargs={"literal_binds": True, "render_postcompile": True},
        )
    )


def nodes_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes_of(child)
    return found


async def plan_of(connection: asyncpg.Connection, sql: str) -> list[dict[str, Any]]:
    """The nodes of the plan PostgreSQL makes for `sql`, outermost first."""
    document = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {sql}")
    return nodes_of(json.loads(document)[0]["Plan"])


async def load(connection: asyncpg.Connection) -> None:
    """20,000 actions and 100,000 milestones, vacuumed and analysed as autovacuum leaves a
    table (its visibility map set: index-only scans are costed as such)."""
    await connection.execute(LOAD)
    await connection.execute("VACUUM ANALYZE actions")
    await connection.execute("VACUUM ANALYZE milestones")


def statements(programme: uuid.UUID, chantier: uuid.UUID) -> dict[str, str]:
    """The statements that read lateness: the list of actions (one page, in code order, with
    ?late=true and ?late=false), the summaries' late counts and a chantier's progress."""

    def page(wanted: bool) -> Select[Any]:
        return select(Action).where(late_filter(wanted)).order_by(Action.code, Action.id).limit(51)

    return {
        "actions ?late=true": sql_of(page(True)),
        "actions ?late=false": sql_of(page(False)),
        "programme summary, late per chantier": sql_of(LATE_ACTIONS[True], programme_id=programme),
        "summary, late per chantier": sql_of(LATE_ACTIONS[False]),
        "chantier progress": sql_of(PROGRESS["chantier"], id=chantier),
    }
