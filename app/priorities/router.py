"""/v1/priorities: the programme's cross-cutting impératifs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

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
    created,
    from_query,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.pagination import ListParams, Page, page_params
from app.common.principal import Principal
from app.db import ReplicaSession, Session
from app.models import Priority
from app.priorities.schemas import (
    PriorityCreate,
    PriorityFilters,
    PriorityRead,
    PriorityUpdate,
)
from app.priorities.service import PriorityService

router = APIRouter(prefix="/v1/priorities", tags=["priorities"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
Listing = Annotated[ListParams, Depends(page_params("position", Priority.sortable))]
Filters = Annotated[PriorityFilters, Depends(from_query(PriorityFilters))]


@router.get(
    "",
    summary="List priorities",
    response_model=Page[PriorityRead],
    responses=problems(*READ_ERRORS),
)
async def list_priorities(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Page[PriorityRead]:
    rows, next_cursor = await PriorityService(session, settings).list(params, filters)
    return Page[PriorityRead].of(rows, next_cursor)


@router.get(
    "/{priority_id}",
    summary="Get a priority",
    response_model=PriorityRead,
    responses=GET_RESPONSES,
)
async def get_priority(
    response: Response,
    session: Session,
    settings: AppSettings,
    priority_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> PriorityRead | Response:
    priority = await PriorityService(session, settings).get(priority_id)
    if is_current(if_none_match, priority):
        return not_modified(priority)
    with_etag(response, priority)
    return PriorityRead.model_validate(priority)


@router.post(
    "",
    summary="Create a priority",
    status_code=status.HTTP_201_CREATED,
    response_model=PriorityRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_priority(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: PriorityCreate,
) -> PriorityRead:
    priority = await PriorityService(session, settings, principal).create(data)
    created(response, request, priority)
    return PriorityRead.model_validate(priority)


@router.patch(
    "/{priority_id}",
    summary="Update a priority (only the fields sent)",
    response_model=PriorityRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_priority(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    priority_id: uuid.UUID,
    data: PriorityUpdate,
    if_match: IfMatch = None,
) -> PriorityRead:
    service = PriorityService(session, settings, principal)
    priority = await service.update(priority_id, data, if_match)
    with_etag(response, priority)
    return PriorityRead.model_validate(priority)


@router.delete(
    "/{priority_id}",
    summary="Delete a priority",
    description="Refused with 409 while a chantier still serves this priority.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_priority(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    priority_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await PriorityService(session, settings, principal).delete(priority_id, if_match)
