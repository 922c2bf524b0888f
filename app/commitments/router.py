"""/v1/commitments: money a partner commits to an action for a budget year."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import commitment_writer_key
from app.commitments.schemas import (
    CommitmentCreate,
    CommitmentFilters,
    CommitmentRead,
    CommitmentUpdate,
)
from app.commitments.service import CommitmentService
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
from app.common.rows import RowJson
from app.db import ReplicaSession, Session
from app.models import Commitment

router = APIRouter(prefix="/v1/commitments", tags=["commitments"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(commitment_writer_key)]
Listing = Annotated[ListParams, Depends(page_params("-created_at", Commitment.sortable))]
Filters = Annotated[CommitmentFilters, Depends(from_query(CommitmentFilters))]
ROWS = RowJson(CommitmentRead)  # reads answer rows as CommitmentRead's JSON (app.common.rows)


@router.get(
    "",
    summary="List commitments",
    response_model=Page[CommitmentRead],
    responses=problems(*READ_ERRORS),
)
async def list_commitments(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Response:
    service = CommitmentService(session, settings)
    rows, next_cursor = await service.list_rows(ROWS.columns, params, filters)
    return ROWS.page(rows, next_cursor)


@router.get(
    "/{commitment_id}",
    summary="Get a commitment",
    response_model=CommitmentRead,
    responses=GET_RESPONSES,
)
async def get_commitment(
    session: Session,
    settings: AppSettings,
    commitment_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> Response:
    row = await CommitmentService(session, settings).get_row(commitment_id, ROWS.columns)
    etag = ROWS.etag(row)
    if is_current(if_none_match, etag):
        return not_modified(etag)
    return ROWS.one(row, {"ETag": etag})


@router.post(
    "",
    summary="Create a commitment",
    status_code=status.HTTP_201_CREATED,
    response_model=CommitmentRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_commitment(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: CommitmentCreate,
) -> CommitmentRead:
    commitment = await CommitmentService(session, settings, principal).create(data)
    created(response, request, commitment)
    return CommitmentRead.model_validate(commitment)


@router.patch(
    "/{commitment_id}",
    summary="Update a commitment (only the fields sent)",
    response_model=CommitmentRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_commitment(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    commitment_id: uuid.UUID,
    data: CommitmentUpdate,
    if_match: IfMatch = None,
) -> CommitmentRead:
    service = CommitmentService(session, settings, principal)
    commitment = await service.update(commitment_id, data, if_match)
    with_etag(response, commitment)
    return CommitmentRead.model_validate(commitment)


@router.delete(
    "/{commitment_id}",
    summary="Delete a commitment",
    description="Partner keys may delete only their own partner's commitments.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_commitment(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    commitment_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await CommitmentService(session, settings, principal).delete(commitment_id, if_match)
