"""/v1/indicators (definitions), /v1/actions/{id}/indicators (each action's baseline, targets and
actuals), the values partners push, and /v1/aggregates/indicators (the roll-ups)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.auth.dependencies import commitment_writer_key, editor_key
from app.common.fields import Year
from app.common.http import (
    DELETE_ERRORS,
    GET_RESPONSES,
    ITEM_WRITE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    AppSettings,
    IfMatch,
    IfNoneMatch,
    StrictRoute,
    created,
    from_query,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.pagination import ListParams, Page, page_params
from app.common.principal import Principal
from app.db import Session
from app.indicators.schemas import (
    ACHIEVEMENT_FORMULA,
    ActionIndicatorList,
    ActionIndicatorPut,
    ActionIndicatorRead,
    IndicatorCreate,
    IndicatorCube,
    IndicatorFilters,
    IndicatorRead,
    IndicatorUpdate,
    IndicatorValueBatch,
    IndicatorValuePut,
    IndicatorValueResult,
    ValueBatchBody,
)
from app.indicators.service import IndicatorService, RecordService
from app.models import Indicator
from app.sync.schemas import PathReference

router = APIRouter(tags=["indicators"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
ValueWriter = Annotated[Principal, Depends(commitment_writer_key)]
Listing = Annotated[ListParams, Depends(page_params("code", Indicator.sortable))]
Filters = Annotated[IndicatorFilters, Depends(from_query(IndicatorFilters))]
PartnerId = Annotated[uuid.UUID, Path(description="The partner that measured these values.")]

UNITS_RULE = (
    "Units are never mixed: each action's record keeps the unit its values were stated in. "
    "A `sum` indicator's unit cannot change while actions follow it in that unit, and turning "
    "an indicator whose records are in other units into `sum` is a 422 naming `/aggregation` "
    "until those records are restated (PUT)."
)
RECORD_RULES = (
    "Targets are for years of the action's programme (one per year); actuals are dated, never "
    "in the future; values are decimal strings, kept as sent. " + ACHIEVEMENT_FORMULA
)


@router.get(
    "/v1/indicators",
    summary="List indicators",
    response_model=Page[IndicatorRead],
    responses=problems(*READ_ERRORS),
)
async def list_indicators(
    session: Session, settings: AppSettings, params: Listing, filters: Filters
) -> Page[IndicatorRead]:
    rows, next_cursor = await IndicatorService(session, settings).list(params, filters)
    return Page[IndicatorRead].of(rows, next_cursor)


@router.get(
    "/v1/indicators/{indicator_id}",
    summary="Get an indicator",
    response_model=IndicatorRead,
    responses=GET_RESPONSES,
)
async def get_indicator(
    response: Response,
    session: Session,
    settings: AppSettings,
    indicator_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> IndicatorRead | Response:
    indicator = await IndicatorService(session, settings).get(indicator_id)
    if is_current(if_none_match, indicator):
        return not_modified(indicator)
    with_etag(response, indicator)
    return IndicatorRead.model_validate(indicator)


@router.post(
    "/v1/indicators",
    summary="Create an indicator",
    description="A shared indicator (no `programme_id`) needs a key that reaches every "
    "programme. " + UNITS_RULE,
    status_code=status.HTTP_201_CREATED,
    response_model=IndicatorRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_indicator(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: IndicatorCreate,
) -> IndicatorRead:
    indicator = await IndicatorService(session, settings, principal).create(data)
    created(response, request, indicator)
    return IndicatorRead.model_validate(indicator)


@router.patch(
    "/v1/indicators/{indicator_id}",
    summary="Update an indicator (only the fields sent)",
    description=UNITS_RULE,
    response_model=IndicatorRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_indicator(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    indicator_id: uuid.UUID,
    data: IndicatorUpdate,
    if_match: IfMatch = None,
) -> IndicatorRead:
    service = IndicatorService(session, settings, principal)
    indicator = await service.update(indicator_id, data, if_match)
    with_etag(response, indicator)
    return IndicatorRead.model_validate(indicator)


@router.delete(
    "/v1/indicators/{indicator_id}",
    summary="Delete an indicator",
    description="Refused with 409 while actions follow it.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_indicator(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    indicator_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await IndicatorService(session, settings, principal).delete(indicator_id, if_match)


# --- an action's records -------------------------------------------------------------------------


@router.get(
    "/v1/actions/{action_id}/indicators",
    tags=["actions"],
    summary="List the indicators an action follows, with their values and achievement",
    response_model=ActionIndicatorList,
    responses=problems(*READ_ERRORS, 404),
)
async def list_action_indicators(session: Session, action_id: uuid.UUID) -> ActionIndicatorList:
    return ActionIndicatorList(items=await RecordService(session).records(action_id))


@router.get(
    "/v1/actions/{action_id}/indicators/{indicator_id}",
    tags=["actions"],
    summary="Get an action's baseline, targets and actuals of one indicator",
    description=RECORD_RULES,
    response_model=ActionIndicatorRead,
    responses=GET_RESPONSES,
)
async def get_action_indicator(
    response: Response,
    session: Session,
    action_id: uuid.UUID,
    indicator_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> ActionIndicatorRead | Response:
    record = await RecordService(session).get(action_id, indicator_id)
    if is_current(if_none_match, record):
        return not_modified(record)
    with_etag(response, record)
    return record


@router.put(
    "/v1/actions/{action_id}/indicators/{indicator_id}",
    tags=["actions"],
    summary="Set an action's baseline, targets and actuals of one indicator (the whole record)",
    description=(
        f"{RECORD_RULES} 201 when the action did not follow the indicator, 200 otherwise (the "
        "same record sent again writes no new version). The record's `id` is its history's: "
        "/v1/action_indicators/{id}/history."
    ),
    response_model=ActionIndicatorRead,
    responses={
        201: {"description": "Created", "model": ActionIndicatorRead},
        **problems(*ITEM_WRITE_ERRORS),
    },
)
async def put_action_indicator(
    response: Response,
    session: Session,
    principal: Writer,
    action_id: uuid.UUID,
    indicator_id: uuid.UUID,
    data: ActionIndicatorPut,
    if_match: IfMatch = None,
) -> ActionIndicatorRead:
    service = RecordService(session, principal)
    record, was_created = await service.put(action_id, indicator_id, data, if_match)
    if was_created:
        response.status_code = status.HTTP_201_CREATED
    with_etag(response, record)
    return record


@router.delete(
    "/v1/actions/{action_id}/indicators/{indicator_id}",
    tags=["actions"],
    summary="Stop following an indicator on an action (its values go with it)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_action_indicator(
    session: Session,
    principal: Writer,
    action_id: uuid.UUID,
    indicator_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await RecordService(session, principal).delete(action_id, indicator_id, if_match)


# --- partners' values ----------------------------------------------------------------------------

_PUSH = (
    "The action is named by its `code`, the indicator by its `code`; the action must already "
    "follow the indicator (an editor PUTs its record). A value is the partner's by its "
    "`external_ref`: sent again, it replaces the stored one. Each record whose values change "
    "takes one new version (history and change feed). Partner keys write only their own "
    "partner."
)


@router.put(
    "/v1/partners/{partner_id}/indicator-values/{external_ref}",
    tags=["sync"],
    summary="Create or replace one measured value by the partner's reference",
    description=f"{_PUSH} Answers the action's record: 201 when the value is new, 200 otherwise.",
    response_model=ActionIndicatorRead,
    responses={
        201: {"description": "Created", "model": ActionIndicatorRead},
        **problems(*WRITE_ERRORS, 404),
    },
)
async def put_indicator_value(
    response: Response,
    session: Session,
    principal: ValueWriter,
    partner_id: PartnerId,
    external_ref: PathReference,
    data: IndicatorValuePut,
) -> ActionIndicatorRead:
    service = RecordService(session, principal)
    record, was_created = await service.put_value(partner_id, external_ref, data)
    if was_created:
        response.status_code = status.HTTP_201_CREATED
    with_etag(response, record)
    return record


@router.put(
    "/v1/partners/{partner_id}/indicator-values",
    tags=["sync"],
    summary="Upsert a batch of up to 10,000 measured values, all or nothing",
    description=(
        f"{_PUSH} One transaction: if any item is bad, nothing is written and the 422 lists "
        "every bad item (`/items/5017/on`)."
    ),
    response_model=IndicatorValueResult,
    responses=problems(*WRITE_ERRORS, 404),
)
async def put_indicator_values(
    session: Session,
    principal: ValueWriter,
    partner_id: PartnerId,
    batch: ValueBatchBody,
) -> IndicatorValueResult:
    service = RecordService(session, principal)
    return await service.put_values(partner_id, batch.items, batch.errors, batch.more_errors)


# --- roll-ups ------------------------------------------------------------------------------------


class RollupDimension(StrEnum):
    programme = "programme"
    priority = "priority"
    chantier = "chantier"


@router.get(
    "/v1/aggregates/indicators",
    tags=["aggregates"],
    summary="Indicators rolled up to programme, priority or chantier, year by year",
    description=(
        "`sum` indicators only (a `none` indicator's values do not add up), in their one unit. "
        "For each indicator, group (`by`) and year of the programme: Σ baselines, Σ targets of "
        "the year, Σ last actuals up to 31 December, and the achievement (ΣA − ΣB) ÷ (ΣT − ΣB) "
        "over the actions that have all three (`complete`), rounded half away from zero to "
        "four decimals, null when none is complete or ΣT = ΣB. A chantier serving two "
        "priorities counts in both. Cells with neither a target nor an actual are left out. "
        + ACHIEVEMENT_FORMULA
    ),
    response_model=IndicatorCube,
    responses=problems(*READ_ERRORS),
)
async def aggregate_indicators(
    session: Session,
    by: Annotated[RollupDimension, Query(description="The group.")] = RollupDimension.chantier,
    indicator_id: Annotated[uuid.UUID | None, Query(description="Only this indicator.")] = None,
    programme_id: Annotated[uuid.UUID | None, Query(description="Only this programme.")] = None,
    year: Annotated[Year | None, Query(description="Only this year.")] = None,
) -> IndicatorCube:
    return await RecordService(session).cube(by.value, indicator_id, programme_id, year)


EXTRA_SCHEMAS = (IndicatorValueBatch,)
"""Documented in the OpenAPI components though no signature names it (see app.sync.router)."""
