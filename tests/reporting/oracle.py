"""An independent computation of the aggregates, in Python, over rows read with plain SQL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ENTITY = {"programme", "priority", "chantier", "action", "partner"}
TERRITORIAL = ("commune", "epci", "departement")
CENT = Decimal("0.01")


def shares(money: Decimal, n: int) -> list[Decimal]:
    """`money` in n shares to the cent, the first ones a cent more until the cents run out."""
    cents = int(money * 100)
    base, extra = divmod(cents, n)
    return [Decimal(base + (1 if i < extra else 0)) / 100 for i in range(n)]


@dataclass
class Piece:
    """A commitment's share placed in one commune (all of it, and no commune, without any)."""

    commune: str | None
    epci: str | None
    departement: str | None
    amount: Decimal
    disbursed: Decimal


@dataclass
class Figures:
    planned: Decimal = Decimal(0)
    committed: Decimal = Decimal(0)
    disbursed: Decimal = Decimal(0)
    ids: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.ids)

    def add(self, row: dict[str, Any], piece: Piece | None = None) -> None:
        self.ids.add(row["id"])
        amount = row["amount"] if piece is None else piece.amount
        disbursed = row["disbursed_amount"] if piece is None else piece.disbursed
        if row["status"] == "planned":
            self.planned += amount
        elif row["status"] == "committed":
            self.committed += amount
            self.disbursed += disbursed

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
    places: dict[str, tuple[str | None, str | None, int | None]] = field(default_factory=dict)
    """commune code → (its EPCI, its département, its population), as the referential says."""
    populations: dict[tuple[str, str], int | None] = field(default_factory=dict)
    """(kind, code) → population, for EPCI and départements."""

    def pieces(self, row: dict[str, Any]) -> list[Piece]:
        communes = self.data_communes(row)
        if not communes:
            return [Piece(None, None, None, row["amount"], row["disbursed_amount"])]
        amounts = shares(row["amount"], len(communes))
        disbursed = shares(row["disbursed_amount"], len(communes))
        return [
            Piece(c, *self.places.get(c, (None, None, None))[:2], a, d)
            for c, a, d in zip(communes, amounts, disbursed, strict=True)
        ]

    def data_communes(self, row: dict[str, Any]) -> list[str]:
        communes: list[str] = self.actions[row["action_id"]]["communes"]
        return communes

    def population(self, dim: str, code: str | None) -> int | None:
        if code is None:
            return None
        if dim == "commune":
            return self.places.get(code, (None, None, None))[2]
        return self.populations.get((dim, code))


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
    # A code may name a commune and a delegated commune: the commune wins.
    for t in await rows(
        "SELECT code, epci_code, departement_code, population FROM territories"
        " WHERE kind IN ('commune', 'arrondissement_municipal', 'commune_deleguee',"
        " 'commune_associee') ORDER BY kind <> 'commune' DESC"
    ):
        data.places[t["code"]] = (t["epci_code"], t["departement_code"], t["population"])
    for t in await rows(
        "SELECT kind, code, population FROM territories WHERE kind IN ('epci', 'departement')"
    ):
        data.populations[(t["kind"], t["code"])] = t["population"]
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
    if dim == "chantier":
        return [action["chantier_id"]]
    if dim == "partner_kind":
        return [data.partners[row["partner_id"]]["kind"]]
    return [row[f"{dim}_id" if dim in ENTITY else dim]]


def _piece_matches(piece: Piece, cut: dict[str, list[Any]]) -> bool:
    return all(getattr(piece, dim) in cut[dim] for dim in TERRITORIAL if dim in cut)


def _matches(data: Data, row: dict[str, Any], cut: dict[str, list[Any]]) -> bool:
    for name, wanted in cut.items():
        if name in TERRITORIAL:
            continue  # judged share by share
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
    """Cells keyed by their dimension values (ids for entities), and the summary. Territorial
    dimensions and filters split a commitment's money over its communes (`shares`)."""
    cells: dict[tuple[Any, ...], Figures] = defaultdict(Figures)
    summary = Figures()
    territorial = any(d in TERRITORIAL for d in drilldown) or any(d in cut for d in TERRITORIAL)
    finest = next((d for d in TERRITORIAL if d in drilldown), None)
    populations: dict[tuple[Any, ...], int | None] = {}
    for row in data.commitments:
        if not _matches(data, row, cut):
            continue
        pieces: list[Piece | None] = (
            [p for p in data.pieces(row) if _piece_matches(p, cut)] if territorial else [None]
        )
        for piece in pieces:
            summary.add(row, piece)
            if not drilldown:
                continue
            keys: list[tuple[Any, ...]] = [()]
            for dim in drilldown:
                values = (
                    [getattr(piece, dim)] if dim in TERRITORIAL and piece else
                    _values(data, row, dim, cut)
                )  # fmt: skip
                keys = [(*k, v) for k in keys for v in values]
            for key in keys:
                cells[key].add(row, piece)
                if finest is not None:
                    code = key[drilldown.index(finest)]
                    populations[key] = data.population(finest, code)
    out = {}
    for key, figures in cells.items():
        out[key] = figures.json()
        if finest is not None:
            population = populations[key]
            out[key]["population"] = population
            for measure in ("committed", "disbursed"):
                money: Decimal = getattr(figures, measure)
                per = None
                if population:
                    per = f"{(money / population).quantize(CENT, rounding=ROUND_HALF_EVEN):.2f}"
                out[key][f"{measure}_per_inhabitant"] = per
    return out, summary.json()


def cell_key(cell: dict[str, Any], drilldown: list[str]) -> tuple[Any, ...]:
    key = []
    for dim in drilldown:
        value = cell[dim]
        key.append(value["id"] if dim in ENTITY and value is not None else value)
    return tuple(key)


MEASURES = ("planned", "committed", "disbursed", "count", "execution_rate")
PER_INHABITANT = ("population", "committed_per_inhabitant", "disbursed_per_inhabitant")


def measures(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: cell[k] for k in (*MEASURES, *PER_INHABITANT) if k in cell}
