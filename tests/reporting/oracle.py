"""An independent computation of the aggregates, in Python, over rows read with plain SQL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ENTITY = {"programme", "priority", "chantier", "action", "partner"}


@dataclass
class Figures:
    planned: Decimal = Decimal(0)
    committed: Decimal = Decimal(0)
    disbursed: Decimal = Decimal(0)
    count: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.count += 1
        if row["status"] == "planned":
            self.planned += row["amount"]
        elif row["status"] == "committed":
            self.committed += row["amount"]
            self.disbursed += row["disbursed_amount"]

    def json(self) -> dict[str, Any]:
        rate = None
        if self.committed:
            quotient = (self.disbursed / self.committed).quantize(
                Decimal("0.000001"), rounding=ROUND_HALF_EVEN
            )
            rate = f"{quotient:.6f}"
        return {
            "planned": f"{self.planned:.2f}",
            "committed": f"{self.committed:.2f}",
            "disbursed": f"{self.disbursed:.2f}",
            "count": self.count,
            "execution_rate": rate,
        }


@dataclass
class Data:
    commitments: list[dict[str, Any]]
    actions: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, Any]]
    priorities_of: dict[str, list[str]] = field(default_factory=dict)


async def load(connection: AsyncConnection) -> Data:
    async def rows(sql: str) -> list[dict[str, Any]]:
        result = await connection.execute(text(sql))
        return [
            {k: (str(v) if k.endswith("id") and v is not None else v) for k, v in r.items()}
            for r in result.mappings().all()
        ]

    data = Data(
        commitments=await rows("SELECT * FROM commitments"),
        actions={a["id"]: a for a in await rows("SELECT * FROM actions")},
        partners={p["id"]: p for p in await rows("SELECT * FROM partners")},
    )
    for link in await rows("SELECT * FROM chantier_priorities"):
        data.priorities_of.setdefault(link["chantier_id"], []).append(link["priority_id"])
    return data


def _values(data: Data, row: dict[str, Any], dim: str, cut: dict[str, list[Any]]) -> list[Any]:
    action = data.actions[row["action_id"]]
    if dim == "priority":
        wanted = cut.get("priority")
        found = [
            p
            for p in data.priorities_of.get(action["chantier_id"], [])
            if not wanted or p in wanted
        ]
        return found or [None]
    if dim == "commune":
        wanted = cut.get("commune")
        found = [c for c in action["communes"] if not wanted or c in wanted]
        return found or [None]
    if dim == "chantier":
        return [action["chantier_id"]]
    if dim == "partner_kind":
        return [data.partners[row["partner_id"]]["kind"]]
    return [row[f"{dim}_id" if dim in ENTITY else dim]]


def _matches(data: Data, row: dict[str, Any], cut: dict[str, list[Any]]) -> bool:
    for name, wanted in cut.items():
        if name == "year_from":
            ok = row["year"] >= wanted[0]
        elif name == "year_to":
            ok = row["year"] <= wanted[0]
        else:
            ok = any(v in wanted for v in _values(data, row, name, {}))
        if not ok:
            return False
    return True


def aggregate(
    data: Data, drilldown: list[str], cut: dict[str, list[Any]]
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Cells keyed by their dimension values (ids for entities), and the summary."""
    cells: dict[tuple[Any, ...], Figures] = defaultdict(Figures)
    summary = Figures()
    for row in data.commitments:
        if not _matches(data, row, cut):
            continue
        summary.add(row)
        if not drilldown:
            continue
        keys: list[tuple[Any, ...]] = [()]
        for dim in drilldown:
            keys = [(*k, v) for k in keys for v in _values(data, row, dim, cut)]
        for key in keys:
            cells[key].add(row)
    return {k: f.json() for k, f in cells.items()}, summary.json()


def cell_key(cell: dict[str, Any], drilldown: list[str]) -> tuple[Any, ...]:
    key = []
    for dim in drilldown:
        value = cell[dim]
        key.append(value["id"] if dim in ENTITY and value is not None else value)
    return tuple(key)


def measures(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: cell[k] for k in ("planned", "committed", "disbursed", "count", "execution_rate")}
