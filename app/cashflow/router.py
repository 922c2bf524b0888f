"""/v1/aggregates/cashflow: money over time (committed, scheduled, paid, remaining) by the
commitments cube's dimensions and a year or month axis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import RowMapping

from app.cashflow.schemas import CashflowResponse
from app.cashflow.service import COVERAGE_FORMULA, CashflowService, query_of
from app.cashflow.statements import MEASURES, CashflowQuery
from app.common.fields import format_money
from app.common.http import READ_ERRORS, StrictRoute, problems
from app.db import Reads, ReplicaReads, ReplicaSession
from app.errors import ErrorItem, InvalidParameter
from app.reporting.export import SpooledFileResponse, json_only, spool_csv
from app.reporting.router import Page, PageSize
from app.reporting.schemas import AggregateFilters, aggregate_filters
from app.reporting.service import ReportingService, parse_drilldown, parse_order
from app.reporting.statements import DIMENSIONS, ENTITIES

# The cube's dimensions but the territories' EPCI and département (the cash-flow roll-ups
# stop at the chantier; communes come from the commitments, counted whole: see the
# description).
CASHFLOW_DIMENSIONS = tuple(d for d in DIMENSIONS if d not in ("epci", "departement"))


def parse_cashflow_drilldown(values: list[str] | None) -> tuple[str, ...]:
    return parse_drilldown(values, CASHFLOW_DIMENSIONS)


def _no_territory_above_communes(filters: AggregateFilters) -> None:
    """The EPCI and département filters split money between territories, which this cube
    does not do: a 400 naming them, never an answer that silently ignores them."""
    named = [name for name in ("epci", "departement") if getattr(filters, name)]
    if named:
        detail = "is not a filter of the cash-flow cube (GET /v1/aggregates/commitments has it)"
        raise InvalidParameter(
            f"{', '.join(named)} {detail}.",
            errors=[ErrorItem(parameter=name, detail=detail) for name in named],
        )


router = APIRouter(tags=["aggregates"], route_class=StrictRoute)

CASHFLOW_PATH = "/v1/aggregates/cashflow"
CASHFLOW_CSV_PATH = "/v1/aggregates/cashflow.csv"
HEAVY_PATHS = (CASHFLOW_PATH, CASHFLOW_CSV_PATH)
"""Routes that group many rows: RATE_LIMIT__HEAVY_CONCURRENT bounds them per client."""
CSV_MEDIA_TYPE = "text/csv"

CASHFLOW_DESCRIPTION = f"""
Money over time (AP/CP): what was committed, scheduled and paid, and what remains to pay,
year by year (or month by month), grouped by the dimensions of `drilldown` as in
`/v1/aggregates/commitments` (same dimensions, filters, `order`, paging and CSV).

Only `committed` commitments count (as for the commitments cube's `committed` and `disbursed`).

**Measures** per cell (decimal strings, exact to the cent):
- `committed` = Σ `amount` of the commitments whose `year` is the cell's year;
- `scheduled` = Σ schedule lines whose `year` is the cell's year;
- `paid` = Σ signed payments whose `paid_on` falls in the cell's year (or month):
  disbursement +amount, reversal −amount, adjustment its own sign;
- `remaining` = at the end of the cell's year (or month): committed to date − paid to date, a
  running sum over the cell's periods with the same other dimensions (*restes à payer*).

**Time axis**: `year` is always in the grain (naming it in `drilldown` changes nothing). Each
combination of the other dimensions gets every period from its first figure to its last, so
that `remaining` is there every year. `year`, `year_from` and `year_to` choose the periods
shown; `remaining` still counts the years before them. `axis=month` gives one cell per month
(`month`: `YYYY-MM`): `paid` is the month's payments; `committed` and `scheduled`, which are
yearly, are reported on their year's January (0.00 in the other months), so that the twelve
months add up to the year; `remaining` at a month's end counts a year's commitments from
January.

**Summary**: `committed`, `scheduled` and `paid` over the years of the filters (every year by
default); `remaining` at the end of the reference year `as_of` (default: the current year);
`paid_last_three_years` = Σ paid in `as_of` − 2 to `as_of`; `coverage_ratio` (*taux de
couverture des AP*, in years) = {COVERAGE_FORMULA}, 2 decimals rounded half-even, `null` when
nothing was paid in those three years.

**Overlapping cells**: as in the commitments cube, a chantier serving several priorities or an
action spanning several communes appears in each of its cells (`overlapping` then says so);
`summary` counts each once.

**Ceiling**: more cells (periods included) than `AGGREGATES__MAX_CELLS` is a 400
`TOO_MANY_CELLS` naming `drilldown`.

**CSV**: the same cells are `GET /v1/aggregates/cashflow.csv`, with the same parameters.
"""

CASHFLOW_CSV_DESCRIPTION = """
The cells of `GET /v1/aggregates/cashflow` (same parameters, measures and ceiling) as CSV:
`;`-separated, a first line `sep=;` for spreadsheets, a header line, a line per cell, with a
`Content-Length`; `decimal=comma` writes `1250,50`. Written whole before it is sent.
"""

Drilldown = Annotated[
    list[str] | None,
    Query(
        description=f"Comma-separated dimensions among {', '.join(CASHFLOW_DIMENSIONS)} (the time "
        "axis is always there).",
        examples=["chantier"],
    ),
]
Axis = Annotated[
    Literal["year", "month"],
    Query(description="`month`: one cell per month (see the description)."),
]
Order = Annotated[
    str | None,
    Query(
        max_length=256,
        description=(
            "Comma-separated measures, `year` or drilldown dimensions, `-` for descending "
            f"(measures: {', '.join(MEASURES)}); entities sort by code; periods in order "
            "break ties."
        ),
        examples=["-paid,year"],
    ),
]


def _current_year() -> int:
    return datetime.now(UTC).year


@router.get(
    CASHFLOW_PATH,
    name="aggregate_cashflow",
    summary="Money over time: committed, scheduled, paid and remaining per year or month",
    description=CASHFLOW_DESCRIPTION,
    response_model=CashflowResponse,
    response_model_exclude_unset=True,
    responses=problems(*READ_ERRORS, 406),
)
async def aggregate_cashflow(
    request: Request,
    session: ReplicaSession,
    filters: Annotated[AggregateFilters, Depends(aggregate_filters)],
    drilldown: Drilldown = None,
    axis: Axis = "year",
    as_of: Annotated[
        int | None,
        Query(ge=1900, le=2200, description="The summary's reference year; the current one."),
    ] = None,
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
) -> Any:
    json_only(request.headers.get("accept", ""), CASHFLOW_CSV_PATH)
    _no_territory_above_communes(filters)
    dims = parse_cashflow_drilldown(drilldown)
    keys = parse_order(order, (*dims, "year"), MEASURES)
    settings = request.app.state.settings
    cut = await ReportingService(session, settings).resolve(filters)
    size = page_size or 100
    query = query_of(dims, cut, axis, keys, page, size, settings.aggregates.max_cells)
    answer = await CashflowService(session, settings).cube(
        query, page or 1, as_of or _current_year()
    )
    return Response(answer.model_dump_json(exclude_unset=True), media_type="application/json")


@router.get(
    CASHFLOW_CSV_PATH,
    name="export_cashflow",
    summary="Money over time as CSV: committed, scheduled, paid and remaining per period",
    description=CASHFLOW_CSV_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problems(*READ_ERRORS),
    },
)
async def export_cashflow(
    request: Request,
    reads: ReplicaReads,
    filters: Annotated[AggregateFilters, Depends(aggregate_filters)],
    drilldown: Drilldown = None,
    axis: Axis = "year",
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
    decimal: Annotated[
        Literal["point", "comma"],
        Query(description="`comma` writes amounts as `1250,50`."),
    ] = "point",
) -> StreamingResponse:
    _no_territory_above_communes(filters)
    dims = parse_cashflow_drilldown(drilldown)
    keys = parse_order(order, (*dims, "year"), MEASURES)
    spool = await _export(request, reads, filters, dims, axis, keys, (page, page_size), decimal)
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cashflow.csv"'},
    )


def _csv_header(query: CashflowQuery) -> list[str]:
    header: list[str] = []
    for dim in query.drilldown:
        header += [f"{dim}_id", f"{dim}_code", f"{dim}_name"] if dim in ENTITIES else [dim]
    header.append("year")
    if query.axis == "month":
        header.append("month")
    return [*header, *MEASURES]


def _csv_row(row: RowMapping, query: CashflowQuery, point: str) -> list[Any]:
    line: list[Any] = []
    for dim in query.drilldown:
        if dim in ENTITIES:
            line += [row[f"{dim}_id"] or "", row[f"{dim}_code"] or "", row[f"{dim}_name"] or ""]
        else:
            line.append("" if row[dim] is None else row[dim])
    line.append(row["year"])
    if query.axis == "month":
        line.append(f"{row['year']:04d}-{row['month']:02d}")
    return [*line, *(format_money(row[m]).replace(".", point) for m in MEASURES)]


async def _export(
    request: Request,
    reads: Reads,
    filters: AggregateFilters,
    dims: tuple[str, ...],
    axis: str,
    keys: Any,
    paging: tuple[int | None, int | None],
    decimal: str,
) -> IO[bytes]:
    """The whole CSV, spooled before anything is sent, in a transaction of its own (a
    server-side cursor needs one) that ends before the answer starts."""
    point = "," if decimal == "comma" else "."
    settings = request.app.state.settings
    async with reads.sessionmaker() as session, session.begin():
        cut = await ReportingService(session, settings).resolve(filters)
        query = query_of(dims, cut, axis, keys, *paging, settings.aggregates.max_cells)
        cells = CashflowService(session, settings).stream(query)
        rows = (_csv_row(row, query, point) async for row in cells)
        return await spool_csv(_csv_header(query), rows, preamble="sep=;\r\n")
