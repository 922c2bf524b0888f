"""/v1/chantiers: the priority workstreams, with the priorities they serve and yearly targets."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import editor_key
from app.chantiers.schemas import (
    ChantierCreate,
    ChantierFilters,
    ChantierRead,
    ChantierUpdate,
)
from app.chantiers.service import ChantierService
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
from app.models import Chantier

router = APIRouter(prefix="/v1/chantiers", tags=["chantiers"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
Listing = Annotated[ListParams, Depends(page_params("number", Chantier.sortable))]
Filters = Annotated[ChantierFilters, Depends(from_query(ChantierFilters))]


@router.get(
    "",
    summary="List chantiers",
    response_model=Page[ChantierRead],
    responses=problems(*READ_ERRORS),
)
async def list_chantiers(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Page[ChantierRead]:
    rows, next_cursor = await ChantierService(session, settings).list(params, filters)
    return Page[ChantierRead].of(rows, next_cursor)


@router.get(
    "/{chantier_id}",
    summary="Get a chantier",
    response_model=ChantierRead,
    responses=GET_RESPONSES,
)
async def get_chantier(
    response: Response,
    session: Session,
    settings: AppSettings,
    chantier_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> ChantierRead | Response:
    chantier = await ChantierService(session, settings).get(chantier_id)
    if is_current(if_none_match, chantier):
        return not_modified(chantier)
    with_etag(response, chantier)
    return ChantierRead.model_validate(chantier)


@router.post(
    "",
    summary="Create a chantier",
    status_code=status.HTTP_201_CREATED,
    response_model=ChantierRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_chantier(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: ChantierCreate,
) -> ChantierRead:
    chantier = await ChantierService(session, settings, principal).create(data)
    created(response, request, chantier)
    return ChantierRead.model_validate(chantier)


@router.patch(
    "/{chantier_id}",
    summary="Update a chantier (only the fields sent)",
    response_model=ChantierRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_chantier(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    chantier_id: uuid.UUID,
    data: ChantierUpdate,
    if_match: IfMatch = None,
) -> ChantierRead:
    service = ChantierService(session, settings, principal)
    chantier = await service.update(chantier_id, data, if_match)
    with_etag(response, chantier)
    return ChantierRead.model_validate(chantier)


@router.delete(
    "/{chantier_id}",
    summary="Delete a chantier",
    description="Refused with 409 while the chantier has actions; its targets go with it.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_chantier(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    chantier_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await ChantierService(session, settings, principal).delete(chantier_id, if_match)
