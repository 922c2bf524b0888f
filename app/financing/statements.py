"""The financing cube's SQL: one statement per shape (drilldown, order, plan or partner level),
built once and cached, the filters bound as arrays (an empty array filters nothing).

Two levels, because the costs belong to a plan and the money to its lines:
- **plan level** (no partner dimension or filter): a row per plan, with its costs, planned
  (Σ lines), secured and its lead partner's amount;
- **partner level** (`partner` or `partner_kind` in the drilldown, or a partner, partner kind
  or instrument filter): a row per line; only planned and secured are summed, the costs and
  what derives from them (gap, leverage) are null.
Secured money is read from the committed commitments of the line's action, partner and
instrument, as a plan's GET reads it (app/models/sql/financing.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Integer, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text, Uuid

from app.reporting.statements import OrderKey

DIMENSIONS = ("programme", "priority", "chantier", "action", "partner", "partner_kind")
ENTITIES = ("programme", "priority", "chantier", "action", "partner")
PARTNER_DIMENSIONS = ("partner", "partner_kind")
MEASURES = ("total_cost", "eligible_cost", "planned", "secured", "gap", "leverage", "plans")

# Each entity's (id, code, name) columns, by the alias its table has in the statements.
_ENTITY_COLUMNS = {
    "programme": ("pg.id", "pg.code", "pg.name"),
    "priority": ("pr.id", "pr.code", "pr.name"),
    "chantier": ("ch.id", "ch.code", "ch.name"),
    "action": ("a.id", "a.code", "a.title"),
    "partner": ("pa.id", "pa.code", "pa.name"),
}

_LINES = """
line_rows AS (
  SELECT l.action_id, l.partner_id, l.instrument, l.amount,
         coalesce((SELECT sum(c.amount) FROM commitments c
                   WHERE c.action_id = l.action_id AND c.partner_id = l.partner_id
                     AND c.instrument = l.instrument AND c.status = 'committed'), 0) AS secured
  FROM financing_plan_lines l
)"""

# The plans the cut keeps, whatever the level: by programme, chantier, action, priority.
_PLAN_CUT = """
      (cardinality(CAST(:programme AS uuid[])) = 0 OR a.programme_id = ANY(:programme))
  AND (cardinality(CAST(:chantier AS uuid[])) = 0 OR a.chantier_id = ANY(:chantier))
  AND (cardinality(CAST(:action AS uuid[])) = 0 OR a.id = ANY(:action))
  AND (cardinality(CAST(:priority AS uuid[])) = 0
       OR EXISTS (SELECT FROM chantier_priorities f
                  WHERE f.chantier_id = a.chantier_id AND f.priority_id = ANY(:priority)))"""

_LINE_CUT = """
  AND (cardinality(CAST(:partner AS uuid[])) = 0 OR lr.partner_id = ANY(:partner))
  AND (cardinality(CAST(:partner_kind AS text[])) = 0 OR pa.kind = ANY(:partner_kind))
  AND (cardinality(CAST(:instrument AS text[])) = 0 OR lr.instrument = ANY(:instrument))"""

_PLAN_ROWS = f"""
WITH {_LINES.strip()},
rows AS (
  SELECT a.id AS action_id, a.chantier_id, a.programme_id, p.total_cost, p.eligible_cost,
         coalesce(sum(lr.amount), 0) AS planned, coalesce(sum(lr.secured), 0) AS secured,
         sum(lr.amount) FILTER (WHERE lr.partner_id = p.lead_partner_id) AS lead_amount
  FROM financing_plans p
  JOIN actions a ON a.id = p.action_id
  LEFT JOIN line_rows lr ON lr.action_id = p.action_id
  WHERE {_PLAN_CUT.strip()}
  GROUP BY a.id, p.action_id
)"""

_PARTNER_ROWS = f"""
WITH {_LINES.strip()},
rows AS (
  SELECT a.id AS action_id, a.chantier_id, a.programme_id, lr.partner_id, pa.kind,
         NULL::numeric AS total_cost, NULL::numeric AS eligible_cost,
         lr.amount AS planned, lr.secured, NULL::numeric AS lead_amount
  FROM line_rows lr
  JOIN actions a ON a.id = lr.action_id
  JOIN partners pa ON pa.id = lr.partner_id
  WHERE {_PLAN_CUT.strip()}{_LINE_CUT}
)"""

_PLAN_MEASURES = """
  sum(r.total_cost) AS total_cost, sum(r.eligible_cost) AS eligible_cost,
  sum(r.planned) AS planned, sum(r.secured) AS secured,
  sum(r.eligible_cost - r.planned) AS gap,
  round(sum(r.planned - r.lead_amount) FILTER (WHERE r.lead_amount > 0)
        / nullif(sum(r.lead_amount) FILTER (WHERE r.lead_amount > 0), 0), 6) AS leverage,
  count(DISTINCT r.action_id) AS plans"""


@dataclass(frozen=True)
class Shape:
    drilldown: tuple[str, ...]
    order: tuple[OrderKey, ...]
    partner_level: bool


def _joins(dims: tuple[str, ...]) -> str:
    joins = []
    if "programme" in dims:
        joins.append("JOIN programmes pg ON pg.id = r.programme_id")
    if "chantier" in dims:
        joins.append("JOIN chantiers ch ON ch.id = r.chantier_id")
    if "action" in dims:
        joins.append("JOIN actions a ON a.id = r.action_id")
    if "priority" in dims:
        # A chantier serving two priorities puts its plans in both cells (the summary does not:
        # it has no priority dimension); under a priority cut, only the priorities cut.
        joins.append(
            "LEFT JOIN chantier_priorities cp ON cp.chantier_id = r.chantier_id"
            " AND (cardinality(CAST(:priority AS uuid[])) = 0 OR cp.priority_id = ANY(:priority))"
        )
        joins.append("LEFT JOIN priorities pr ON pr.id = cp.priority_id")
    if "partner" in dims:
        joins.append("JOIN partners pa ON pa.id = r.partner_id")
    return "\n".join(joins)


def _dimension_columns(dims: tuple[str, ...]) -> tuple[list[str], list[str], dict[str, str]]:
    """The select list, the group by, and each dimension's sort key (a column of the cells)."""
    select: list[str] = []
    group: list[str] = []
    sort: dict[str, str] = {}
    for dim in dims:
        if dim in ENTITIES:
            id, code, name = _ENTITY_COLUMNS[dim]
            select += [f"{id} AS {dim}_id", f"{code} AS {dim}_code", f"{name} AS {dim}_name"]
            group += [id, code, name]
            sort[dim] = f"{dim}_code"
        else:  # partner_kind
            select.append("r.kind AS partner_kind")
            group.append("r.kind")
            sort[dim] = dim
    return select, group, sort


@lru_cache(maxsize=256)
def cells_statement(shape: Shape) -> TextClause:
    """The cells of one page, each with the number of cells of the whole answer (capped at
    :max_cells + 1: one more means too many)."""
    dims = shape.drilldown
    select, group, sort = _dimension_columns(dims)
    order = [
        f"{sort.get(k.name, k.name)} {'DESC' if k.descending else 'ASC'} NULLS LAST"
        for k in shape.order
    ] + [f"{sort[d]} NULLS LAST" for d in dims if d not in {k.name for k in shape.order}]
    # Dimension and measure names come from DIMENSIONS and MEASURES (parsed), never from input.
    sql = f"""
{_PARTNER_ROWS if shape.partner_level else _PLAN_ROWS},
cells AS (
  SELECT {", ".join(select)},{_PLAN_MEASURES}
  FROM rows r
  {_joins(dims)}
  GROUP BY {", ".join(group)}
)
SELECT c.*, (SELECT count(*) FROM (SELECT FROM cells LIMIT :max_cells + 1) n) AS total_cells
FROM cells c
ORDER BY {", ".join(order)}
LIMIT :page_limit OFFSET :page_offset
"""
    return _bound(text(sql))


@lru_cache(maxsize=4)
def totals_statement(partner_level: bool) -> TextClause:
    """The true total: each plan (or line) once, whatever priorities its chantier serves."""
    sql = f"""
{_PARTNER_ROWS if partner_level else _PLAN_ROWS}
SELECT {_PLAN_MEASURES}
FROM rows r
"""
    return _bound(text(sql))


def _bound(statement: TextClause) -> TextClause:
    params: list[BindParameter[Any]] = [
        bindparam(name, type_=ARRAY(Uuid()))
        for name in ("programme", "priority", "chantier", "action", "partner")
        if f":{name}" in statement.text
    ] + [
        bindparam(name, type_=ARRAY(Text()))
        for name in ("partner_kind", "instrument")
        if f":{name}" in statement.text
    ]
    for name in ("max_cells", "page_limit", "page_offset"):
        if f":{name}" in statement.text:
            params.append(bindparam(name, type_=Integer()))
    return statement.bindparams(*params)
