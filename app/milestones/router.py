"""/v1/actions/{id}/milestones and /v1/milestones: the dated steps of an action, their slippage,
and whether they make the action late."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.auth.dependencies import editor_key
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
    from_query,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.pagination import ListParams, Page, page_params
from app.common.principal import Principal
from app.db import Session
from app.milestones.schemas import (
    SLIPPAGE_RULE,
    STATUS_RULE,
    TODAY,
    MilestoneCreate,
    MilestoneFilters,
    MilestoneRead,
    MilestoneUpdate,
)
from app.milestones.service import MilestoneService
from app.models import Milestone

router = APIRouter(tags=["milestones"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
Listing = Annotated[ListParams, Depends(page_params("due_on", Milestone.sortable))]
Filters = Annotated[MilestoneFilters, Depends(from_query(MilestoneFilters))]


@router.get(
    "/v1/actions/{action_id}/milestones",
    summary="List an action's milestones",
    description="In due-date order by default. " + SLIPPAGE_RULE,
    response_model=Page[MilestoneRead],
    responses=problems(*READ_ERRORS, 404),
)
async def list_milestones(
    session: Session,
    settings: AppSettings,
    action_id: uuid.UUID,
    params: Listing,
    filters: Filters,
) -> Page[MilestoneRead]:
    service = MilestoneService(session, settings)
    rows, next_cursor = await service.list_on(action_id, params, filters)
    return Page[MilestoneRead].of(rows, next_cursor, {TODAY: await service.today()})


@router.post(
    "/v1/actions/{action_id}/milestones",
    summary="Add a milestone to an action",
    description=STATUS_RULE + " " + SLIPPAGE_RULE,
    status_code=status.HTTP_201_CREATED,
    response_model=MilestoneRead,
    responses=problems(*WRITE_ERRORS, 404),
)
async def create_milestone(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    action_id: uuid.UUID,
    data: MilestoneCreate,
) -> MilestoneRead:
    service = MilestoneService(session, settings, principal)
    milestone = await service.create_on(action_id, data)
    response.headers["Location"] = f"/v1/milestones/{milestone.id}"
    with_etag(response, milestone)
    return MilestoneRead.at(milestone, await service.today())


@router.get(
    "/v1/milestones/{milestone_id}",
    summary="Get a milestone",
    description=SLIPPAGE_RULE,
    response_model=MilestoneRead,
    responses=GET_RESPONSES,
)
async def get_milestone(
    response: Response,
    session: Session,
    settings: AppSettings,
    milestone_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> MilestoneRead | Response:
    service = MilestoneService(session, settings)
    milestone = await service.get(milestone_id)
    if is_current(if_none_match, milestone):
        return not_modified(milestone)
    with_etag(response, milestone)
    return MilestoneRead.at(milestone, await service.today())


@router.patch(
    "/v1/milestones/{milestone_id}",
    summary="Update a milestone (only the fields sent)",
    description=STATUS_RULE + " The rule holds for the milestone as it would be stored: moving "
    "a met milestone back to `scheduled` sends `met_on: null` too.",
    response_model=MilestoneRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_milestone(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    milestone_id: uuid.UUID,
    data: MilestoneUpdate,
    if_match: IfMatch = None,
) -> MilestoneRead:
    service = MilestoneService(session, settings, principal)
    milestone = await service.update(milestone_id, data, if_match)
    with_etag(response, milestone)
    return MilestoneRead.at(milestone, await service.today())


@router.delete(
    "/v1/milestones/{milestone_id}",
    summary="Delete a milestone",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_milestone(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    milestone_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await MilestoneService(session, settings, principal).delete(milestone_id, if_match)
