"""/v1/partners: organisations that finance or carry actions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import shared_editor_key
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
from app.common.schemas import UpsertResult
from app.db import ReplicaSession, Session
from app.models import Partner
from app.partners.schemas import (
    PartnerBatch,
    PartnerBatchBody,
    PartnerCreate,
    PartnerFilters,
    PartnerRead,
    PartnerUpdate,
)
from app.partners.service import PartnerService

router = APIRouter(prefix="/v1/partners", tags=["partners"], route_class=StrictRoute)
# Partners are shared by every programme: a key scoped to programmes does not write them (403).
Writer = Annotated[Principal, Depends(shared_editor_key)]
Listing = Annotated[ListParams, Depends(page_params("code", Partner.sortable))]
Filters = Annotated[PartnerFilters, Depends(from_query(PartnerFilters))]


@router.get(
    "",
    summary="List partners",
    response_model=Page[PartnerRead],
    responses=problems(*READ_ERRORS),
)
async def list_partners(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Page[PartnerRead]:
    rows, next_cursor = await PartnerService(session, settings).list(params, filters)
    return Page[PartnerRead].of(rows, next_cursor)


@router.get(
    "/{partner_id}",
    summary="Get a partner",
    response_model=PartnerRead,
    responses=GET_RESPONSES,
)
async def get_partner(
    response: Response,
    session: Session,
    settings: AppSettings,
    partner_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> PartnerRead | Response:
    partner = await PartnerService(session, settings).get(partner_id)
    if is_current(if_none_match, partner):
        return not_modified(partner)
    with_etag(response, partner)
    return PartnerRead.model_validate(partner)


@router.post(
    "",
    summary="Create a partner",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_partner(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: PartnerCreate,
) -> PartnerRead:
    partner = await PartnerService(session, settings, principal).create(data)
    created(response, request, partner)
    return PartnerRead.model_validate(partner)


@router.put(
    "",
    summary="Create or replace a batch of up to 10,000 partners by code, all or nothing",
    description=(
        "Each item is a whole partner, matched to a stored one by `code`. One statement and one "
        "transaction: if any item is bad, nothing is written and the 422 lists every bad item "
        "(`/items/12/siret`). An item identical to the stored partner makes no new version. "
        "Safe to retry; with an `Idempotency-Key`, a retry gets the first answer again."
    ),
    response_model=UpsertResult,
    responses=problems(*WRITE_ERRORS),
)
async def put_partners(
    session: Session, settings: AppSettings, principal: Writer, batch: PartnerBatchBody
) -> UpsertResult:
    return await PartnerService(session, settings, principal).put_batch(batch)


@router.patch(
    "/{partner_id}",
    summary="Update a partner (only the fields sent)",
    response_model=PartnerRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_partner(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: uuid.UUID,
    data: PartnerUpdate,
    if_match: IfMatch = None,
) -> PartnerRead:
    service = PartnerService(session, settings, principal)
    partner = await service.update(partner_id, data, if_match)
    with_etag(response, partner)
    return PartnerRead.model_validate(partner)


@router.delete(
    "/{partner_id}",
    summary="Delete a partner",
    description="Refused with 409 while actions, commitments or keys refer to the partner.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_partner(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await PartnerService(session, settings, principal).delete(partner_id, if_match)


EXTRA_SCHEMAS = (PartnerBatch,)
"""Documented in the OpenAPI components though no signature names it (see app.sync.router)."""
