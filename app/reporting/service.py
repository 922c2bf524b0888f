"""Aggregate rules: which dimensions, filters and orders exist, and how cells become answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import asdict
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import BadRequest, ErrorItem, InvalidParameter, NotFound
from app.reporting.pacing import Pacer
from app.reporting.repository import ReportingRepository, Totals
from app.reporting.schemas import (
    AggregateCell,
    AggregateFilters,
    AggregateResponse,
    CashflowYear,
    ChantierLateness,
    EntityRef,
    Measures,
    PhysicalProgress,
    ProgrammeSummary,
    Progress,
    ProgressFigures,
    YearProgress,
    ratio,
)
from app.reporting.statements import (
    DIMENSIONS,
    ENTITIES,
    MEASURES,
    TERRITORIAL,
    CellQuery,
    Cut,
    OrderKey,
)
from app.reporting.summaries import SUMMARY_BREAKDOWNS

PERCENT_PLACES = Decimal("0.01")
CENT = Decimal("0.01")
CELLS_PER_TURN = 200
PHYSICAL_PROGRESS_FORMULA = (
    "Σ(progress × weight) / Σ weight over the actions that are not cancelled"
)


class TooManyCells(BadRequest):
    """The drilldown groups into more cells than AGGREGATES__MAX_CELLS: nothing is sent."""

    reason = "TOO_MANY_CELLS"

    def __init__(self, limit: int) -> None:
        detail = (
            f"groups into more than {limit:,} cells, the limit (AGGREGATES__MAX_CELLS); "
            "drill down by fewer dimensions or cut (filter) the commitments"
        )
        super().__init__(
            f"drilldown {detail}.", errors=[ErrorItem(parameter="drilldown", detail=detail)]
        )


def _bad(parameter: str, detail: str) -> InvalidParameter:
    return InvalidParameter(
        f"{parameter} {detail}.", errors=[ErrorItem(parameter=parameter, detail=detail)]
    )


def parse_drilldown(
    values: Sequence[str] | None, dimensions: Sequence[str] = DIMENSIONS
) -> tuple[str, ...]:
    """`dimensions`: those of the cube asked (the commitments cube's by default)."""
    dims: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            if name not in dimensions:
                raise _bad(
                    "drilldown", f"has unknown dimension {name!r}; use {', '.join(dimensions)}"
                )
            if name in dims:
                raise _bad("drilldown", f"names {name!r} twice")
            dims.append(name)
    return tuple(dims)


def parse_order(
    value: str | None, drilldown: Sequence[str], measure_names: Collection[str] = MEASURES
) -> tuple[OrderKey, ...]:
    """`measure_names`: those of the cube ordered (the commitments cube's by default)."""
    keys: list[OrderKey] = []
    for part in (value or "").split(","):
        name = part.strip().removeprefix("-")
        if not name:
            continue
        if name not in measure_names and name not in DIMENSIONS:
            raise _bad("order", f"names {name!r}, neither a measure nor a dimension")
        if name in DIMENSIONS and name not in drilldown:
            raise _bad("order", f"names {name!r}, which is not in the drilldown")
        if any(k.name == name for k in keys):
            raise _bad("order", f"names {name!r} twice")
        keys.append(OrderKey(name, part.strip().startswith("-")))
    return tuple(keys)


def measures(row: Totals | RowMapping) -> dict[str, Any]:
    values: Any = asdict(row) if isinstance(row, Totals) else row
    return {
        "planned": values["planned"],
        "committed": values["committed"],
        "disbursed": values["disbursed"],
        "count": int(values["count"]),
        "execution_rate": ratio(values["disbursed"], values["committed"]),
    }


def dimension_values(
    mapping: RowMapping, drilldown: Sequence[str], entities: Collection[str] = ENTITIES
) -> dict[str, Any]:
    """A cell's dimensions from its row: an entity from its `_id`, `_code`, `_name` columns
    (null when the row has none), any other dimension as it is (every cube's cells)."""
    values: dict[str, Any] = {}
    for dim in drilldown:
        if dim in entities:
            id_ = mapping[f"{dim}_id"]
            values[dim] = (
                None
                if id_ is None
                else EntityRef(id=id_, code=mapping[f"{dim}_code"], name=mapping[f"{dim}_name"])
            )
        else:
            values[dim] = mapping[dim]
    return values


def cell(mapping: RowMapping, drilldown: Sequence[str]) -> AggregateCell:
    values: dict[str, Any] = measures(mapping) | dimension_values(mapping, drilldown)
    if "population" in mapping:
        population = mapping["population"]
        values["population"] = population
        values["committed_per_inhabitant"] = per_inhabitant(values["committed"], population)
        values["disbursed_per_inhabitant"] = per_inhabitant(values["disbursed"], population)
    # Validated: pydantic-core validates a cell in about half the time model_construct takes.
    return AggregateCell(**values)


def per_inhabitant(money: Decimal, population: int | None) -> Decimal | None:
    """money / population rounded half-even to the cent; None without a population."""
    if not population:
        return None
    return (money / population).quantize(CENT, rounding=ROUND_HALF_EVEN)


def overlapping(
    drilldown: Sequence[str], in_cells: int, money_in_cells: Decimal, summary: Totals
) -> bool:
    """Whether a commitment counts in several cells. Territorial dimensions split the money and
    count a commitment in each of its territories: then only money counted twice (a priority
    drilldown) overlaps."""
    if set(TERRITORIAL) & set(drilldown):
        return money_in_cells > summary.planned + summary.committed
    return in_cells > summary.count


class ReportingService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repo = ReportingRepository(session)
        self.settings = settings

    async def resolve(self, filters: AggregateFilters) -> Cut:
        """Entity codes or ids become ids; a value naming nothing is a 400, not an empty answer.
        Repeated values count once."""

        def once(values: Sequence[Any] | None) -> tuple[str, ...]:
            return tuple(dict.fromkeys(str(v) for v in values or ()))

        requested = {e: values for e in ENTITIES if (values := once(getattr(filters, e)))}
        found_by_entity = await self.repo.resolve(requested) if requested else {}
        resolved: dict[str, tuple[uuid.UUID, ...]] = {}
        for entity, values in requested.items():
            found = found_by_entity[entity]
            missing = [v for v in values if v not in found]
            if missing:
                raise InvalidParameter(
                    f"No {entity} has the id or code {', '.join(missing)}.",
                    errors=[
                        ErrorItem(parameter=entity, detail=f"no {entity} {v!r}") for v in missing
                    ],
                )
            resolved[entity] = tuple(dict.fromkeys(id for v in values for id in found[v]))
        return Cut(
            year=tuple(dict.fromkeys(filters.year or ())),
            year_from=filters.year_from,
            year_to=filters.year_to,
            partner_kind=once(filters.partner_kind),
            status=once(filters.status),
            instrument=once(filters.instrument),
            commune=once(filters.commune),
            epci=once(filters.epci),
            departement=once(filters.departement),
            **resolved,
        )

    async def aggregate(
        self,
        drilldown: tuple[str, ...],
        cut: Cut,
        order: tuple[OrderKey, ...],
        page: int,
        size: int,
    ) -> AggregateResponse:
        if not drilldown:
            summary = await self.repo.totals(cut)
            return _answer(drilldown, [], summary, 0, page, size, overlapping=False)
        query = CellQuery(
            drilldown, cut, order, size, (page - 1) * size, self.settings.aggregates.max_cells
        )
        found = await self.repo.page(query)  # past the end: no cells, still the counts
        self._within_ceiling(found.total_cells)
        cells: list[AggregateCell] = []
        pacer = Pacer()
        for start in range(0, len(found.cells), CELLS_PER_TURN):
            if start:  # 10,000 cells take a while: let other requests run between chunks
                await pacer.chunk_done()
            cells += [cell(row, drilldown) for row in found.cells[start : start + CELLS_PER_TURN]]
        return _answer(
            drilldown,
            cells,
            found.totals,
            found.total_cells,
            page,
            size,
            overlapping=overlapping(drilldown, found.in_cells, found.money_in, found.totals),
        )

    async def stream(
        self,
        drilldown: tuple[str, ...],
        cut: Cut,
        order: tuple[OrderKey, ...],
        page: int | None,
        size: int | None,
    ) -> AsyncIterator[RowMapping]:
        """The cells' rows one after the other (the dimensions' columns, the measures), as the
        CSV export writes them; TooManyCells before the first if they are too many."""
        offset = ((page or 1) - 1) * size if size is not None else 0
        max_cells = self.settings.aggregates.max_cells
        query = CellQuery(drilldown, cut, order, size, offset, max_cells)
        checked = False
        async for row in self.repo.stream_cells(query):
            if not checked:
                self._within_ceiling(int(row["total_cell_count"]))
                checked = True
            yield row

    def _within_ceiling(self, total_cells: int) -> None:
        """The statement groups at most max_cells + 1 cells: that one more means too many."""
        if total_cells > self.settings.aggregates.max_cells:
            raise TooManyCells(self.settings.aggregates.max_cells)

    # -- progress ------------------------------------------------------------------------------

    async def progress(self, kind: str, id: uuid.UUID) -> Progress:
        rows = await self.repo.progress(kind, id)  # one statement: entity, years, physical
        if not rows:
            raise NotFound(f"No {kind} has id {id}.")
        cashflow = await self.repo.cashflow_years(kind, id)
        years: list[YearProgress] = []
        zero = Decimal("0.00")
        sums = {"planned": zero, "committed": zero, "disbursed": zero}
        targets: list[Decimal] = []
        for row in rows:  # every year of its own programme's period, in order
            figures = {name: row[name] if row[name] is not None else zero for name in sums}
            for name, value in figures.items():
                sums[name] += value
            if row["target"] is not None:
                targets.append(row["target"])
            years.append(
                YearProgress(
                    year=row["year"],
                    **_figures(row["target"], figures),
                    **_cash(cashflow, row["year"]),
                )
            )
        target_total = sum(targets, zero) if targets else None
        entity = rows[0]
        weight = int(entity["weight"])
        percent = (
            (Decimal(entity["weighted"]) / weight).quantize(PERCENT_PLACES, ROUND_HALF_EVEN)
            if weight
            else None
        )
        return Progress(
            id=entity["id"],
            code=entity["code"],
            name=entity["name"],
            programme=EntityRef(
                id=entity["programme_id"],
                code=entity["programme_code"],
                name=entity["programme_name"],
            ),
            years=years,
            totals=ProgressFigures(**_figures(target_total, sums)),
            physical_progress=PhysicalProgress(
                percent=percent,
                actions=int(entity["actions"]),
                total_weight=weight,
            ),
            late_actions=int(entity["late_actions"]),
        )

    async def summary(self, programme_id: uuid.UUID | None = None) -> ProgrammeSummary:
        """Every programme's figures, or (given its id) one programme's: 404 if it is none."""
        by: dict[str, list[AggregateCell]] = {dim: [] for dim in SUMMARY_BREAKDOWNS}
        totals: Measures | None = None
        for row in await self.repo.summary(programme_id):
            dim = row["breakdown"]
            values = measures(row)
            if dim == "totals":
                if not row["programme_known"]:  # the same statement looked it up
                    raise NotFound(f"No programme has id {programme_id}.")
                totals = Measures(**values)
                continue
            if dim == "year":
                values["year"] = row["year"]
            else:
                id_ = row["id"]
                values[dim] = (
                    None if id_ is None else EntityRef(id=id_, code=row["code"], name=row["name"])
                )
            by[dim].append(AggregateCell(**values))
        # The empty grouping set yields its row even over an empty roll-up.
        assert totals is not None
        cashflow = await self.repo.cashflow_years(
            "all" if programme_id is None else "programme", programme_id
        )
        *by_chantier, late_totals = await self.repo.late_actions(programme_id)
        return ProgrammeSummary(
            totals=totals,
            by_programme=by["programme"],
            by_priority=by["priority"],
            by_chantier=by["chantier"],
            by_partner=by["partner"],
            by_year=by["year"],
            cashflow_by_year=[CashflowYear(**row) for row in cashflow.values()],
            late_actions=int(late_totals["late_actions"]),
            late_actions_by_chantier=[
                ChantierLateness(
                    chantier=EntityRef(id=row["id"], code=row["code"], name=row["name"]),
                    actions=int(row["actions"]),
                    late_actions=int(row["late_actions"]),
                )
                for row in by_chantier
            ],
        )


def _cash(cashflow: dict[int, RowMapping], year: int) -> dict[str, Decimal]:
    """A year's scheduled and paid, and the remaining at its end (carried over a year
    without figures)."""
    zero = Decimal("0.00")
    row = cashflow.get(year)
    if row is not None:
        return {"scheduled": row["scheduled"], "paid": row["paid"], "remaining": row["remaining"]}
    before = [y for y in cashflow if y < year]
    remaining = cashflow[max(before)]["remaining"] if before else zero
    return {"scheduled": zero, "paid": zero, "remaining": remaining}


def _answer(
    drilldown: tuple[str, ...],
    cells: list[AggregateCell],
    summary: Totals,
    total_cells: int,
    page: int,
    size: int,
    *,
    overlapping: bool,
) -> AggregateResponse:
    return AggregateResponse(
        drilldown=list(drilldown),
        cells=cells,
        summary=Measures(**measures(summary)),
        total_cell_count=total_cells,
        page=page,
        page_size=size,
        overlapping=overlapping,
    )


def _figures(target: Decimal | None, figures: dict[str, Decimal]) -> dict[str, Any]:
    return {
        "target": target,
        **figures,
        "commitment_rate": ratio(figures["committed"], target),
        "execution_rate": ratio(figures["disbursed"], figures["committed"]),
    }
