"""An independent computation of the cash-flow cube, in Python, over rows read with plain SQL
from the base tables (never the roll-ups)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ENTITY = {"programme": "programme_id", "chantier": "chantier_id", "partner": "partner_id",
          "action": "action_id"}  # fmt: skip
ZERO = Decimal(0)


@dataclass
class Base:
    facts: list[dict[str, Any]]  # commitment, year, month (1-12), committed, scheduled, paid
    commitments: dict[str, dict[str, Any]]
    actions: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, Any]]
    priorities_of: dict[str, list[str]] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # id → code, every entity


async def load(conn: AsyncConnection) -> Base:
    async def rows(sql: str) -> list[dict[str, Any]]:
        result = await conn.execute(text(sql))
        return [
            {k: (str(v) if k.endswith("id") and v is not None else v) for k, v in r.items()}
            for r in result.mappings().all()
        ]

    commitments = {c["id"]: c for c in await rows("SELECT * FROM commitments")}
    facts = [
        {"commitment": c["id"], "year": c["year"], "month": 1, "committed": c["amount"],
         "scheduled": ZERO, "paid": ZERO}
        for c in commitments.values()
    ]  # fmt: skip
    for line in await rows("SELECT * FROM schedule_lines"):
        facts.append({"commitment": line["commitment_id"], "year": line["year"], "month": 1,
                      "committed": ZERO, "scheduled": line["amount"], "paid": ZERO})  # fmt: skip
    for p in await rows("SELECT * FROM payments"):
        signed = -p["amount"] if p["kind"] == "reversal" else p["amount"]
        facts.append({"commitment": p["commitment_id"], "year": p["paid_on"].year,
                      "month": p["paid_on"].month, "committed": ZERO, "scheduled": ZERO,
                      "paid": signed})  # fmt: skip
    base = Base(
        facts=facts,
        commitments=commitments,
        actions={a["id"]: a for a in await rows("SELECT * FROM actions")},
        partners={p["id"]: p for p in await rows("SELECT * FROM partners")},
    )
    for link in await rows("SELECT * FROM chantier_priorities"):
        base.priorities_of.setdefault(link["chantier_id"], []).append(link["priority_id"])
    for table in ("programmes", "priorities", "chantiers", "actions", "partners"):
        for r in await rows(f"SELECT id, code FROM {table}"):
            base.codes[r["id"]] = r["code"]
    return base


def _values(base: Base, fact: dict[str, Any], dim: str, cut: dict[str, list[Any]]) -> list[Any]:
    c = base.commitments[fact["commitment"]]
    action = base.actions[c["action_id"]]
    if dim == "programme":
        return [action["programme_id"]]
    if dim == "chantier":
        return [action["chantier_id"]]
    if dim == "action":
        return [c["action_id"]]
    if dim == "partner":
        return [c["partner_id"]]
    if dim == "partner_kind":
        return [base.partners[c["partner_id"]]["kind"]]
    if dim == "priority":
        found = [p for p in base.priorities_of.get(action["chantier_id"], [])
                 if not cut.get("priority") or p in cut["priority"]]  # fmt: skip
        return found or [None]
    if dim == "commune":
        found = [m for m in action["communes"] if not cut.get("commune") or m in cut["commune"]]
        return found or [None]
    return [c[dim]]  # status, instrument


def _kept(base: Base, fact: dict[str, Any], cut: dict[str, list[Any]]) -> bool:
    c = base.commitments[fact["commitment"]]
    if c["status"] != "committed":
        return False
    for dim, wanted in cut.items():
        if dim in ("year", "year_from", "year_to"):
            continue
        values = _values(base, fact, dim, {})
        if not set(values) & set(wanted):
            return False
    return True


def _in_years(year: int, cut: dict[str, list[Any]]) -> bool:
    return (
        (not cut.get("year") or year in cut["year"])
        and year >= cut.get("year_from", [0])[0]
        and year <= cut.get("year_to", [9999])[0]
    )


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def cells(base: Base, drilldown: list[str], cut: dict[str, list[Any]], axis: str) -> list[Any]:
    """The cells as (dimension values by id or value, period, measures as strings), sorted."""
    sums: dict[tuple[Any, ...], dict[int, list[Decimal]]] = defaultdict(dict)
    for fact in base.facts:
        if not _kept(base, fact, cut):
            continue
        period = fact["year"] * 12 + fact["month"] - 1 if axis == "month" else fact["year"]
        combos: list[tuple[Any, ...]] = [()]
        for dim in drilldown:
            combos = [(*k, v) for k in combos for v in _values(base, fact, dim, cut)]
        for key in combos:
            figures = sums[key].setdefault(period, [ZERO, ZERO, ZERO])
            figures[0] += fact["committed"]
            figures[1] += fact["scheduled"]
            figures[2] += fact["paid"]
    out = []
    for key, periods in sums.items():
        remaining = ZERO
        for period in range(min(periods), max(periods) + 1):
            committed, scheduled, paid = periods.get(period, [ZERO, ZERO, ZERO])
            remaining += committed - paid
            year = period // 12 if axis == "month" else period
            if not _in_years(year, cut):
                continue
            month = f"{year:04d}-{period % 12 + 1:02d}" if axis == "month" else None
            out.append((key, year, month, money(committed), money(scheduled), money(paid),
                        money(remaining)))  # fmt: skip
    return sorted(out, key=repr)


def summary(base: Base, cut: dict[str, list[Any]], as_of: int) -> dict[str, Any]:
    totals = [ZERO, ZERO, ZERO]
    remaining = ZERO
    recent = ZERO
    for fact in base.facts:
        if not _kept(base, fact, cut):
            continue
        if _in_years(fact["year"], cut):
            totals[0] += fact["committed"]
            totals[1] += fact["scheduled"]
            totals[2] += fact["paid"]
        if fact["year"] <= as_of:
            remaining += fact["committed"] - fact["paid"]
        if as_of - 2 <= fact["year"] <= as_of:
            recent += fact["paid"]
    ratio = None
    if recent > 0:
        ratio = f"{(remaining / (recent / 3)).quantize(Decimal('0.01'), ROUND_HALF_EVEN):.2f}"
    return {
        "committed": money(totals[0]), "scheduled": money(totals[1]), "paid": money(totals[2]),
        "as_of": as_of, "remaining": money(remaining),
        "paid_last_three_years": money(recent), "coverage_ratio": ratio,
    }  # fmt: skip


def api_cells(body: dict[str, Any], drilldown: list[str]) -> list[Any]:
    """The API's cells in the oracle's shape (entities by id)."""
    out = []
    for c in body["cells"]:
        key = tuple(
            (c[d]["id"] if c[d] else None) if d in {*ENTITY, "priority"} else c[d]
            for d in drilldown
        )
        out.append((key, c["year"], c.get("month"), c["committed"], c["scheduled"], c["paid"],
                    c["remaining"]))  # fmt: skip
    return sorted(out, key=repr)
