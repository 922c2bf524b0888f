"""/v1/actions/{id}/financing-plan: what an action costs, who pays which share, what is secured,
and what is left to finance."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.dependencies import editor_key
from app.common.fields import format_money
from app.common.http import (
    DELETE_ERRORS,
    GET_RESPONSES,
    ITEM_WRITE_ERRORS,
    READ_ERRORS,
    IfMatch,
    IfNoneMatch,
    StrictRoute,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.principal import Principal
from app.db import Session
from app.financing.schemas import (
    LEVERAGE_FORMULA,
    SECURED_FORMULA,
    SHARE_FORMULA,
    FinancingAggregate,
    FinancingFilters,
    FinancingPlanInput,
    FinancingPlanRead,
    financing_filters,
)
from app.financing.service import FinancingCubeService, FinancingService
from app.financing.statements import DIMENSIONS, ENTITIES, MEASURES
from app.reporting.export import SpooledFileResponse, json_only, spool_csv
from app.reporting.router import Page, PageSize
from app.reporting.service import parse_drilldown, parse_order

router = APIRouter(prefix="/v1/actions", tags=["actions"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]

PLAN_PATH = "/{action_id}/financing-plan"
_READ = (
    "`planned` = Σ the lines' amounts; `gap` = eligible cost − planned (the *reste à "
    f"financer*). {SHARE_FORMULA} {SECURED_FORMULA} {LEVERAGE_FORMULA} Secured money is read "
    "from the commitments when the plan is read; the plan's version (its ETag) moves whenever "
    "its lines, its costs or the committed commitments it counts change, and each such change "
    "is an entry of the change feed (`financing_plans`, id = the action's) and of "
    "`/v1/financing_plans/{id}/history`."
)
_RULES = (
    "The eligible cost is at most the total cost; one line per partner and instrument, each "
    "above 0, for a partner that exists; the lines sum to at most the eligible cost (the "
    "database refuses more, whatever the writer, under concurrent writers too); the lead "
    "partner, when named, has a line."
)


@router.get(
    PLAN_PATH,
    summary="Get an action's financing plan: shares, secured money, gap, leverage",
    description=_READ,
    response_model=FinancingPlanRead,
    responses=GET_RESPONSES,
)
async def get_financing_plan(
    response: Response,
    session: Session,
    action_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> FinancingPlanRead | Response:
    plan = await FinancingService(session).get(action_id)
    if is_current(if_none_match, plan):
        return not_modified(plan)
    with_etag(response, plan)
    return plan


@router.put(
    PLAN_PATH,
    summary="Create or replace an action's financing plan",
    description=(
        f"{_RULES} 201 when the plan is created (If-Match: none, or `*`), 200 when it is "
        "replaced (If-Match honoured: 412 when stale); the current plan sent again writes "
        f"nothing. Editors of the action's programme and admins. {_READ}"
    ),
    response_model=FinancingPlanRead,
    responses={
        201: {"description": "Created", "model": FinancingPlanRead},
        **problems(*ITEM_WRITE_ERRORS),
    },
)
async def put_financing_plan(
    request: Request,
    response: Response,
    session: Session,
    principal: Writer,
    action_id: uuid.UUID,
    data: FinancingPlanInput,
    if_match: IfMatch = None,
) -> FinancingPlanRead:
    plan, created = await FinancingService(session, principal).put(action_id, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = request.url.path
    with_etag(response, plan)
    return plan


@router.delete(
    PLAN_PATH,
    summary="Delete an action's financing plan",
    description="If-Match honoured (412 when stale). The history keeps the plan's versions.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*DELETE_ERRORS),
)
async def delete_financing_plan(
    session: Session, principal: Writer, action_id: uuid.UUID, if_match: IfMatch = None
) -> Response:
    await FinancingService(session, principal).delete(action_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the financing cube --------------------------------------------------------------------------

cube_router = APIRouter(tags=["aggregates"], route_class=StrictRoute)

CUBE_PATH = "/v1/aggregates/financing"
CUBE_CSV_PATH = "/v1/aggregates/financing.csv"
HEAVY_PATHS = (CUBE_PATH, CUBE_CSV_PATH)
"""Routes that group many rows: RATE_LIMIT__HEAVY_CONCURRENT bounds them per client."""

CUBE_DESCRIPTION = f"""
Financing plans summed by the dimensions of `drilldown`, in the style of
`/v1/aggregates/commitments`. Computed in SQL when asked, exact to the cent.

**Dimensions**: {", ".join(f"`{d}`" for d in DIMENSIONS)}; entities appear as
`{{"id", "code", "name"}}`. **Filters** are named after them (plus `instrument`, the lines'):
an entity by id or code, a repeated parameter meaning OR.

**Measures**: `total_cost`, `eligible_cost` = Σ over the plans; `planned` = Σ the lines'
amounts; `secured` = Σ the lines' secured money (the committed commitments of the line's
action, partner and instrument); `gap` = Σ (eligible cost − planned); `leverage` = over the
plans with a lead partner, Σ (planned − the lead's amount) ÷ Σ the lead's amount (rounded half
up to 6 places; null without one); `plans` = plans counted.

**Two levels.** Costs belong to a plan, money to its lines. A `partner` or `partner_kind`
drilldown, or a `partner`, `partner_kind` or `instrument` filter, sums the lines of those
partners: only `planned`, `secured` and `plans` (the plans with such lines) are published
there; `total_cost`, `eligible_cost`, `gap` and `leverage` are null.

**Overlapping cells.** A chantier may serve several priorities: under a `priority` drilldown
its plans appear in each of its priorities' cells (under a priority filter, only in those
filtered), so the cells may add up to more than the total; `summary` is always the true total,
each plan counted once, and `overlapping` says when cells overlap. A chantier serving no
priority puts its plans in a cell whose `priority` is null.

**Ceiling**: more cells than `AGGREGATES__MAX_CELLS` is a 400 `TOO_MANY_CELLS` naming
`drilldown`. **CSV**: the same cells are `GET {CUBE_CSV_PATH}`.
"""

_CSV_DESCRIPTION = f"""
The cells of `GET {CUBE_PATH}` (same parameters, measures and ceiling) as CSV: `;`-separated,
a first line `sep=;`, a header line, then a line per cell (every cell, or the page asked for).
Entities take three columns (`chantier_id`, `chantier_code`, `chantier_name`); a null measure
is an empty field. `decimal=comma` writes `1250,50`.
"""

Drilldown = Annotated[
    list[str] | None,
    Query(
        description=f"Comma-separated dimensions among {', '.join(DIMENSIONS)}.",
        examples=["chantier,partner"],
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
        examples=["-gap"],
    ),
]
Filters = Annotated[FinancingFilters, Depends(financing_filters)]


def _cube(request: Request, session: AsyncSession) -> FinancingCubeService:
    return FinancingCubeService(session, request.app.state.settings)


@cube_router.get(
    CUBE_PATH,
    name="aggregate_financing",
    summary="Aggregate financing plans: costs, planned, secured, gap, leverage",
    description=CUBE_DESCRIPTION,
    response_model=FinancingAggregate,
    response_model_exclude_unset=True,
    responses=problems(*READ_ERRORS, 406),
)
async def aggregate_financing(
    request: Request,
    session: Session,
    filters: Filters,
    drilldown: Drilldown = None,
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
) -> Response:
    json_only(request.headers.get("accept", ""), CUBE_CSV_PATH)
    dims = parse_drilldown(drilldown, DIMENSIONS)
    keys = parse_order(order, dims, MEASURES)
    service = _cube(request, session)
    cut = await service.resolve(filters)
    answer = await service.aggregate(dims, cut, keys, page or 1, page_size or 100)
    return Response(answer.model_dump_json(exclude_unset=True), media_type="application/json")


def _csv_header(dims: tuple[str, ...]) -> list[str]:
    header: list[str] = []
    for dim in dims:
        header += [f"{dim}_id", f"{dim}_code", f"{dim}_name"] if dim in ENTITIES else [dim]
    return header + list(MEASURES)


def _csv_row(row: RowMapping, dims: tuple[str, ...], point: str) -> list[Any]:
    line: list[Any] = []
    for dim in dims:
        if dim in ENTITIES:
            line += [row[f"{dim}_id"] or "", row[f"{dim}_code"] or "", row[f"{dim}_name"] or ""]
        else:
            line.append(row[dim] or "")
    for measure in MEASURES:
        value = row[measure]
        if value is None:
            line.append("")
        elif measure == "plans":
            line.append(int(value))
        elif measure == "leverage":
            line.append(f"{value:.6f}".replace(".", point))
        else:
            line.append(format_money(value).replace(".", point))
    return line


@cube_router.get(
    CUBE_CSV_PATH,
    name="export_financing_aggregates",
    summary="Aggregate financing plans, as CSV (the cells for a spreadsheet)",
    description=_CSV_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(*READ_ERRORS),
    },
)
async def export_financing_aggregates(
    request: Request,
    filters: Filters,
    drilldown: Drilldown = None,
    order: Order = None,
    page: Page = None,
    page_size: PageSize = None,
    decimal: Annotated[
        Literal["point", "comma"],
        Query(description="`comma` writes amounts and leverage as `1250,50`."),
    ] = "point",
) -> StreamingResponse:
    dims = parse_drilldown(drilldown, DIMENSIONS)
    keys = parse_order(order, dims, MEASURES)
    point = "," if decimal == "comma" else "."
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    # In a transaction of its own, ended before the answer starts (as the commitments' CSV).
    async with sessionmaker() as session, session.begin():
        service = _cube(request, session)
        cut = await service.resolve(filters)
        found = await service.rows(dims, cut, keys, page, page_size) if dims else []

        async def rows() -> AsyncIterator[list[Any]]:
            for row in found:
                yield _csv_row(row, dims, point)

        spool = await spool_csv(_csv_header(dims), rows(), preamble="sep=;\r\n")
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="financing-aggregates.csv"'},
    )
