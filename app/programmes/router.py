"""/v1/programmes: the plans a collectivity runs, each with its period and territory."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import editor_key, shared_editor_key
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
from app.models import Programme
from app.programmes.schemas import (
    ProgrammeCreate,
    ProgrammeFilters,
    ProgrammeRead,
    ProgrammeUpdate,
)
from app.programmes.service import ProgrammeService

router = APIRouter(prefix="/v1/programmes", tags=["programmes"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
# A key scoped to programmes updates its own (another programme answers 404 to it), but never
# creates or deletes one (403): the set of programmes is the whole service's.
UnscopedWriter = Annotated[Principal, Depends(shared_editor_key)]
Listing = Annotated[ListParams, Depends(page_params("code", Programme.sortable))]
Filters = Annotated[ProgrammeFilters, Depends(from_query(ProgrammeFilters))]


@router.get(
    "",
    summary="List programmes",
    response_model=Page[ProgrammeRead],
    responses=problems(*READ_ERRORS),
)
async def list_programmes(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Page[ProgrammeRead]:
    rows, next_cursor = await ProgrammeService(session, settings).list(params, filters)
    return Page[ProgrammeRead].of(rows, next_cursor)


@router.get(
    "/{programme_id}",
    summary="Get a programme",
    response_model=ProgrammeRead,
    responses=GET_RESPONSES,
)
async def get_programme(
    response: Response,
    session: Session,
    settings: AppSettings,
    programme_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> ProgrammeRead | Response:
    programme = await ProgrammeService(session, settings).get(programme_id)
    if is_current(if_none_match, programme):
        return not_modified(programme)
    with_etag(response, programme)
    return ProgrammeRead.model_validate(programme)


@router.post(
    "",
    summary="Create a programme",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgrammeRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_programme(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: UnscopedWriter,
    data: ProgrammeCreate,
) -> ProgrammeRead:
    programme = await ProgrammeService(session, settings, principal).create(data)
    created(response, request, programme)
    return ProgrammeRead.model_validate(programme)


@router.patch(
    "/{programme_id}",
    summary="Update a programme (only the fields sent)",
    description=(
        "Its budget years follow `start_year`..`end_year`. Narrowing the period while "
        "commitments or chantier targets use a year it drops is a 409 `PERIOD_IN_USE` naming "
        "how many of each; move or delete them first."
    ),
    response_model=ProgrammeRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_programme(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    programme_id: uuid.UUID,
    data: ProgrammeUpdate,
    if_match: IfMatch = None,
) -> ProgrammeRead:
    service = ProgrammeService(session, settings, principal)
    programme = await service.update(programme_id, data, if_match)
    with_etag(response, programme)
    return ProgrammeRead.model_validate(programme)


@router.delete(
    "/{programme_id}",
    summary="Delete a programme",
    description="Refused with 409 while priorities still belong to this programme.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_programme(
    session: Session,
    settings: AppSettings,
    principal: UnscopedWriter,
    programme_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await ProgrammeService(session, settings, principal).delete(programme_id, if_match)
