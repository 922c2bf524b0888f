"""/v1/aggregates, /v1/summary (of every programme or of one) and the progress of chantiers
and priorities."""

from __future__ import annotations

import uuid
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.fields import format_money
from app.common.http import READ_ERRORS, StrictRoute, problems
from app.db import Reads, ReplicaReads, ReplicaSession
from app.errors import ErrorItem, InvalidParameter
from app.reporting.export import SpooledFileResponse, json_only, spool_csv
from app.reporting.schemas import (
    AggregateFilters,
    AggregateResponse,
    ProgrammeSummary,
    Progress,
    aggregate_filters,
    ratio,
)
from app.reporting.service import (
    PHYSICAL_PROGRESS_FORMULA,
    ReportingService,
    parse_drilldown,
    parse_order,
    per_inhabitant,
)
from app.reporting.statements import DIMENSIONS, ENTITIES, MEASURES, TERRITORIAL, OrderKey

PER_INHABITANT = ("population", "committed_per_inhabitant", "disbursed_per_inhabitant")

router = APIRouter(tags=["aggregates"], route_class=StrictRoute)

MAX_PAGE_SIZE = 10_000
AGGREGATES_PATH = "/v1/aggregates/commitments"
AGGREGATES_CSV_PATH = "/v1/aggregates/commitments.csv"
CHANTIER_PROGRESS_PATH = "/v1/chantiers/{chantier_id}/progress"
PRIORITY_PROGRESS_PATH = "/v1/priorities/{priority_id}/progress"
HEAVY_PATHS = (
    AGGREGATES_PATH,
    AGGREGATES_CSV_PATH,
    CHANTIER_PROGRESS_PATH,
    PRIORITY_PROGRESS_PATH,
)
"""Routes that group many rows: RATE_LIMIT__HEAVY_CONCURRENT bounds them per client."""
CSV_MEDIA_TYPE = "text/csv"
JSON = "application/json"

AGGREGATE_DESCRIPTION = f"""
Sums of commitments, grouped by the dimensions of `drilldown`, in the style of OpenSpending's
babbage.

**Measures** (in every cell and in `summary`): `planned` = Σ `amount` over `planned`
commitments; `committed` = Σ `amount` over `committed` commitments; `disbursed` =
Σ `disbursed_amount` over `committed` commitments (all decimal strings, exact to the cent;
`cancelled` commitments count in none of them); `count` = commitments matched, whatever their
status; `execution_rate` = disbursed / committed (null when nothing is committed).

**Dimensions**: {", ".join(f"`{d}`" for d in DIMENSIONS)}. Entities ({", ".join(ENTITIES)})
appear as `{{"id", "code", "name"}}`, the others as plain values.

**Filters** are named after the dimensions (plus `year_from` and `year_to`); an entity accepts
its id or its code (a priority's or a chantier's code names the one of every programme that
has it: add `programme` to keep one); a repeated parameter means OR (`?year=2024&year=2025`).

**Programmes**: `programme` is a dimension and a filter like the others; a commitment belongs
to one programme (its chantier's), so the programmes' cells add up to the total, to the cent.

**Overlapping cells.** A chantier may serve several priorities: under a `priority` drilldown
such a commitment appears in each of its cells, so the cells add up to more than the total.
`summary` is always the true total, each commitment counted once, and `overlapping` is `true`
when the cells overlap. A commitment whose chantier serves no priority lands in a cell where
`priority` is `null`.

**Territories** (`commune`, `epci`, `departement`, from the shipped INSEE referential): a
commitment on an action of n communes is **split** in n equal shares, exact to the cent, the
remaining cents one each to the first communes in the action's own order (1000.00 over three
communes: 333.34, 333.33, 333.33); each share goes to its commune's EPCI and département. So
territorial cells add up to the total exactly, and a territorial filter keeps the shares placed
in those territories (its `summary` is their sum). `count` counts a commitment in each territory
it has a share in. An action without commune has one share with the dimension `null`. Cells of
a territorial drilldown carry `population` (of the finest territory asked: commune, else EPCI,
else département) and `committed_per_inhabitant`, `disbursed_per_inhabitant` = the cell's money
÷ population, rounded half-even to the cent (null without a population).

**Freshness**: figures come from roll-ups maintained by the database in the same transaction
as every write: they are exact as soon as a write is committed.

**Ceiling**: a drilldown that groups into more cells than the server's limit
(`AGGREGATES__MAX_CELLS`, 50,000 by default) is refused with 400 `TOO_MANY_CELLS` naming
`drilldown`, whatever the page asked for: drill down by fewer dimensions, or cut.

**CSV**: the same cells as a spreadsheet are `GET /v1/aggregates/commitments.csv`, a separate
operation with the same parameters, so that this one answers JSON only.
"""

CSV_DESCRIPTION = """
The cells of `GET /v1/aggregates/commitments` (same parameters, same measures, same ceiling) as
CSV: `;`-separated, a first line `sep=;` for spreadsheets, a header line, then a line per cell
(every cell, or the page asked for with `page` and `page_size`), with a `Content-Length`.
Entities take three columns (`chantier_id`, `chantier_code`, `chantier_name`). Amounts use a
decimal point (`1250.50`) unless `decimal=comma` asks for `1250,50`, which a French-locale
spreadsheet reads as a number. The file is written whole before it is sent.
"""


Drilldown = Annotated[
    list[str] | None,
    Query(
        description=f"Comma-separated dimensions among {', '.join(DIMENSIONS)}.",
        examples=["chantier,year"],
    ),
]
Order = Annotated[
    str | None,
    Query(
        max_length=256,
        description=(
            "Comma-separated measures or drilldown dimensions, `-` for descending "
            f"(measures: {', '.join(MEASURES)}); entities sort by code."
        ),
        examples=["-committed,year"],
    ),
]
Page = Annotated[int | None, Query(ge=1, le=1_000_000, description="From 1.")]
PageSize = Annotated[
    int | None,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"Cells per page, at most {MAX_PAGE_SIZE}."),
]


def _service(request: Request, session: AsyncSession) -> ReportingService:
    return ReportingService(session, request.app.state.settings)


@router.get(
    AGGREGATES_PATH,
    name="aggregate_commitments",
    summary="Aggregate commitments by dimensions (drilldown, filters, order, paging)",
    description=AGGREGATE_DESCRIPTION,
    response_model=AggregateResponse,
    response_model_exclude_unset=True,
    responses=problems(*READ_ERRORS, 406),
)
async def aggregate_commitments(
    request: Request,
    session: ReplicaSession,
    filters: Annotated[AggregateFilters, Depends(aggregate_filters)],
    drilldown: Drilldown = None,
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(
            deprecated=True,
            description=(
                "Only `json`: CSV is `GET /v1/aggregates/commitments.csv` (`csv` here is a 400 "
                "that says so)."
            ),
        ),
    ] = None,
) -> Any:
    if format == "csv":
        raise _csv_moved("format", "format=csv")
    json_only(request.headers.get("accept", ""), AGGREGATES_CSV_PATH)
    dims = parse_drilldown(drilldown)
    keys = parse_order(order, dims)
    service = _service(request, session)
    cut = await service.resolve(filters)
    answer = await service.aggregate(dims, cut, keys, page or 1, page_size or 100)
    return _json(answer, exclude_unset=True)


def _json(answer: BaseModel, *, exclude_unset: bool = False) -> Response:
    """The answer serialised once, here, as its route's response_model (and, with
    `exclude_unset`, response_model_exclude_unset) would: FastAPI would first dump it, validate
    the dump again and serialise that (seconds of a worker for 10,000 cells, during which
    nobody else is served; a third of the CPU of a summary)."""
    return Response(answer.model_dump_json(exclude_unset=exclude_unset), media_type=JSON)


@router.get(
    AGGREGATES_CSV_PATH,
    name="export_commitment_aggregates",
    summary="Aggregate commitments by dimensions, as CSV (the cells for a spreadsheet)",
    description=CSV_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problems(*READ_ERRORS),
    },
)
async def export_commitment_aggregates(
    request: Request,
    reads: ReplicaReads,
    filters: Annotated[AggregateFilters, Depends(aggregate_filters)],
    drilldown: Drilldown = None,
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
    decimal: Annotated[
        Literal["point", "comma"],
        Query(description="`comma` writes amounts and rates as `1250,50`."),
    ] = "point",
) -> StreamingResponse:
    dims = parse_drilldown(drilldown)
    keys = parse_order(order, dims)
    spool = await _export(request, reads, filters, dims, keys, (page, page_size), decimal)
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="commitments-aggregates.csv"'},
    )


def _csv_moved(parameter: str, what: str) -> InvalidParameter:
    detail = f"{what} is no longer served here: GET {AGGREGATES_CSV_PATH} takes the same parameters"
    return InvalidParameter(f"{detail}.", errors=[ErrorItem(parameter=parameter, detail=detail)])


def _csv_header(dims: tuple[str, ...]) -> list[str]:
    header: list[str] = []
    for dim in dims:
        header += [f"{dim}_id", f"{dim}_code", f"{dim}_name"] if dim in ENTITIES else [dim]
    header += ["planned", "committed", "disbursed", "count", "execution_rate"]
    return header + list(PER_INHABITANT) if set(TERRITORIAL) & set(dims) else header


def _csv_row(row: RowMapping, dims: tuple[str, ...], point: str) -> list[Any]:
    """A cell's CSV line, straight from its row: an export writes up to AGGREGATES__MAX_CELLS
    of them, and building each cell's model first tripled the time."""
    line: list[Any] = []
    for dim in dims:
        if dim in ENTITIES:
            line += [row[f"{dim}_id"] or "", row[f"{dim}_code"] or "", row[f"{dim}_name"] or ""]
        else:
            line.append("" if row[dim] is None else row[dim])
    rate = ratio(row["disbursed"], row["committed"])
    money = (
        format_money(row["planned"]),
        format_money(row["committed"]),
        format_money(row["disbursed"]),
    )
    line += [
        *(m.replace(".", point) for m in money),
        int(row["count"]),
        "" if rate is None else f"{rate:.6f}".replace(".", point),
    ]
    if "population" in row:
        population = row["population"]
        line.append("" if population is None else population)
        for measure in ("committed", "disbursed"):
            per = per_inhabitant(row[measure], population)
            line.append("" if per is None else format_money(per).replace(".", point))
    return line


async def _export(
    request: Request,
    reads: Reads,
    filters: AggregateFilters,
    dims: tuple[str, ...],
    keys: tuple[OrderKey, ...],
    paging: tuple[int | None, int | None],
    decimal: str,
) -> IO[bytes]:
    """The whole CSV, spooled before anything is sent, in a transaction of its own (a
    server-side cursor needs one) that ends, freeing the connection, before the answer starts.
    The request's autocommit session is left unused, so it holds no second connection."""
    point = "," if decimal == "comma" else "."
    async with reads.sessionmaker() as session, session.begin():
        service = _service(request, session)
        cut = await service.resolve(filters)
        cells = service.stream(dims, cut, keys, *paging)
        rows = (_csv_row(row, dims, point) async for row in cells)
        return await spool_csv(_csv_header(dims), rows, preamble="sep=;\r\n")


@router.get(
    "/v1/summary",
    name="get_summary",
    summary="The programme at a glance: totals, and measures per priority, chantier, partner, year",
    description=(
        "One request for a dashboard's first screen. `by_priority` overlaps: a commitment "
        "whose chantier serves two priorities counts in both; `totals` counts it once."
    ),
    response_model=ProgrammeSummary,
    response_model_exclude_unset=True,
    responses=problems(*READ_ERRORS),
)
async def get_summary(
    request: Request,
    session: ReplicaSession,
    programme: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this programme (its id or its code); by default every programme.",
            examples=["AMP-RR-2020-2026"],
        ),
    ] = None,
) -> Response:
    service = _service(request, session)
    if programme is None:
        return _json(await service.summary(), exclude_unset=True)
    cut = await service.resolve(AggregateFilters(programme=[programme]))
    return _json(await service.summary(cut.programme[0]), exclude_unset=True)


@router.get(
    "/v1/programmes/{programme_id}/summary",
    name="get_programme_summary",
    tags=["programmes"],
    summary="One programme at a glance: totals, and measures per priority, chantier, partner, year",
    description=(
        "`/v1/summary` restricted to one programme: its totals (the programmes' totals add up "
        "to the grand total of `/v1/summary`, to the cent) and its breakdowns; `by_programme` "
        "holds that programme's one cell. `by_priority` overlaps as in `/v1/summary`."
    ),
    response_model=ProgrammeSummary,
    response_model_exclude_unset=True,
    responses=problems(*READ_ERRORS, 404),
)
async def get_programme_summary(
    request: Request, session: ReplicaSession, programme_id: uuid.UUID
) -> Response:
    return _json(await _service(request, session).summary(programme_id), exclude_unset=True)


_PROGRESS = f"""
For each year of its programme's period (`programme`): `target` (when one is set), `planned`,
`committed`, `disbursed`, `commitment_rate` = committed / target, `execution_rate` =
disbursed / committed.
Physical progress: {PHYSICAL_PROGRESS_FORMULA}, in percent.
"""


@router.get(
    CHANTIER_PROGRESS_PATH,
    name="get_chantier_progress",
    tags=["chantiers"],
    summary="A chantier's progress, year by year, against its targets",
    description=_PROGRESS,
    response_model=Progress,
    responses=problems(*READ_ERRORS, 404),
)
async def get_chantier_progress(
    request: Request, session: ReplicaSession, chantier_id: uuid.UUID
) -> Response:
    return _json(await _service(request, session).progress("chantier", chantier_id))


@router.get(
    PRIORITY_PROGRESS_PATH,
    name="get_priority_progress",
    tags=["priorities"],
    summary="A priority's progress, year by year, over the chantiers serving it",
    description=_PROGRESS
    + "\nA priority's target is the sum of its chantiers' targets for the year.",
    response_model=Progress,
    responses=problems(*READ_ERRORS, 404),
)
async def get_priority_progress(
    request: Request, session: ReplicaSession, priority_id: uuid.UUID
) -> Response:
    return _json(await _service(request, session).progress("priority", priority_id))
