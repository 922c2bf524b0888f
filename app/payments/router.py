"""/v1/commitments/{id}/payments and /v1/payments: the dated money paid on a commitment; and
/v1/partners/{partner_id}/payments: partners push their payments by their own reference."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from app.auth.dependencies import commitment_writer_key
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
from app.db import ReplicaSession, Session
from app.models import Payment
from app.payments.schemas import (
    PaymentBatch,
    PaymentBatchBody,
    PaymentBatchResult,
    PaymentCreate,
    PaymentFilters,
    PaymentPut,
    PaymentRead,
    PaymentUpdate,
)
from app.payments.service import PaymentService
from app.sync.schemas import PathReference

router = APIRouter(route_class=StrictRoute)
Writer = Annotated[Principal, Depends(commitment_writer_key)]
Listing = Annotated[ListParams, Depends(page_params("paid_on", Payment.sortable))]
Filters = Annotated[PaymentFilters, Depends(from_query(PaymentFilters))]
PartnerId = Annotated[uuid.UUID, Path(description="The partner whose payments these are.")]

TOTAL_RULE = (
    "The commitment's `disbursed_amount` is the sum of its payments (disbursements and "
    "adjustments count their amount, reversals minus theirs); a payment that would bring it "
    "above the commitment's amount or below zero is a 422 naming `/amount`, a payment dated "
    "before the commitment's year a 422 naming `/paid_on`."
)


@router.get(
    "/v1/commitments/{commitment_id}/payments",
    tags=["payments"],
    summary="List a commitment's payments",
    description="In date order by default.",
    response_model=Page[PaymentRead],
    responses=problems(*READ_ERRORS, 404),
)
async def list_payments(
    session: ReplicaSession,
    settings: AppSettings,
    commitment_id: uuid.UUID,
    params: Listing,
    filters: Filters,
) -> Page[PaymentRead]:
    rows, next_cursor = await PaymentService(session, settings).list_on(
        commitment_id, params, filters
    )
    return Page[PaymentRead].of(rows, next_cursor)


@router.post(
    "/v1/commitments/{commitment_id}/payments",
    tags=["payments"],
    summary="Record a payment on a commitment",
    description=TOTAL_RULE
    + " Partner keys may pay only their own partner's commitments (another's answers 404).",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentRead,
    responses=problems(*WRITE_ERRORS, 404),
)
async def create_payment(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    commitment_id: uuid.UUID,
    data: PaymentCreate,
) -> PaymentRead:
    payment = await PaymentService(session, settings, principal).create_on(commitment_id, data)
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    with_etag(response, payment)
    return PaymentRead.model_validate(payment)


@router.get(
    "/v1/payments/{payment_id}",
    tags=["payments"],
    summary="Get a payment",
    response_model=PaymentRead,
    responses=GET_RESPONSES,
)
async def get_payment(
    response: Response,
    session: Session,
    settings: AppSettings,
    payment_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> PaymentRead | Response:
    payment = await PaymentService(session, settings).get(payment_id)
    if is_current(if_none_match, payment):
        return not_modified(payment)
    with_etag(response, payment)
    return PaymentRead.model_validate(payment)


@router.patch(
    "/v1/payments/{payment_id}",
    tags=["payments"],
    summary="Update a payment (only the fields sent)",
    description=TOTAL_RULE,
    response_model=PaymentRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_payment(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    payment_id: uuid.UUID,
    data: PaymentUpdate,
    if_match: IfMatch = None,
) -> PaymentRead:
    service = PaymentService(session, settings, principal)
    payment = await service.update_payment(payment_id, data, if_match)
    with_etag(response, payment)
    return PaymentRead.model_validate(payment)


@router.delete(
    "/v1/payments/{payment_id}",
    tags=["payments"],
    summary="Delete a payment",
    description="Its amount leaves the commitment's total (422 `/amount` if that would make "
    "the total negative). Partner keys may delete only their own partner's payments.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS, 422),
)
async def delete_payment(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    payment_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await PaymentService(session, settings, principal).delete_payment(payment_id, if_match)


@router.put(
    "/v1/partners/{partner_id}/payments/{external_ref}",
    tags=["sync"],
    summary="Create or replace one payment by the partner's reference",
    description=(
        "The commitment is named by the partner's own reference for it "
        "(`commitment_external_ref`; unknown: 422). 201 when the payment is created, 200 when "
        "it is replaced (or identical: no new version). Safe to retry. " + TOTAL_RULE
    ),
    response_model=PaymentRead,
    responses={
        201: {"description": "Created", "model": PaymentRead},
        **problems(*ITEM_WRITE_ERRORS),
    },
)
async def put_payment(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: PartnerId,
    external_ref: PathReference,
    data: PaymentPut,
    if_match: IfMatch = None,
) -> PaymentRead:
    service = PaymentService(session, settings, principal)
    stored, created = await service.put_one(partner_id, external_ref, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/payments/{stored.id}"
    with_etag(response, stored)
    return PaymentRead.model_validate(stored)


@router.put(
    "/v1/partners/{partner_id}/payments",
    tags=["sync"],
    summary="Upsert a batch of up to 10,000 payments, all or nothing",
    description=(
        "Each item carries its `external_ref` and its commitment's `commitment_external_ref`. "
        "One transaction: if any item is bad, nothing is written and the 422 lists every bad "
        "item (`/items/7/commitment_external_ref`, `/items/12/amount`…). " + TOTAL_RULE
    ),
    response_model=PaymentBatchResult,
    responses=problems(*WRITE_ERRORS, 404),
)
async def put_payments(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: PartnerId,
    batch: PaymentBatchBody,
) -> PaymentBatchResult:
    return await PaymentService(session, settings, principal).put_batch(partner_id, batch)


EXTRA_SCHEMAS = (PaymentBatch,)
"""Documented in the OpenAPI components though no signature names it (see app.sync.router)."""
