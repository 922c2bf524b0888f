"""/v1/partners/{partner_id}/commitments: partners push their commitments by their own reference."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from app.auth.dependencies import commitment_writer_key
from app.commitments.schemas import CommitmentRead
from app.common.http import (
    ITEM_WRITE_ERRORS,
    WRITE_ERRORS,
    AppSettings,
    IfMatch,
    StrictRoute,
    problems,
    with_etag,
)
from app.common.principal import Principal
from app.db import Session
from app.sync.schemas import (
    BatchBody,
    BatchResult,
    CommitmentBatch,
    CommitmentPut,
    PathReference,
)
from app.sync.service import SyncService

router = APIRouter(
    prefix="/v1/partners/{partner_id}/commitments", tags=["sync"], route_class=StrictRoute
)
Writer = Annotated[Principal, Depends(commitment_writer_key)]
PartnerId = Annotated[uuid.UUID, Path(description="The partner whose commitments these are.")]


@router.put(
    "/{external_ref}",
    summary="Create or replace one commitment by the partner's reference",
    description=(
        "201 when the commitment is created, 200 when it is replaced, 200 without a new version "
        "when the body is identical to what is stored. Safe to retry. A partner key may only "
        "write its own partner (403 otherwise, whether the partner exists or not)."
    ),
    response_model=CommitmentRead,
    responses={
        201: {"description": "Created", "model": CommitmentRead},
        **problems(*ITEM_WRITE_ERRORS),
    },
)
async def put_commitment(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: PartnerId,
    external_ref: PathReference,
    data: CommitmentPut,
    if_match: IfMatch = None,
) -> CommitmentRead:
    service = SyncService(session, settings, principal)
    stored, created = await service.put_one(partner_id, external_ref, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/commitments/{stored.id}"
    with_etag(response, stored)
    return CommitmentRead.model_validate(stored)


@router.put(
    "",
    summary="Upsert a batch of up to 10,000 commitments, all or nothing",
    description=(
        "Each item carries its `external_ref`. One transaction: if any item is bad, nothing is "
        "written and the 422 lists every bad item (`/items/5017/amount`). With `prune`, the "
        "partner's stored commitments inside that scope and missing from the batch are deleted, "
        "so that a nightly full export converges."
    ),
    response_model=BatchResult,
    responses=problems(*WRITE_ERRORS, 404),
)
async def put_commitments(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    partner_id: PartnerId,
    batch: BatchBody,
) -> BatchResult:
    return await SyncService(session, settings, principal).put_batch(partner_id, batch)


EXTRA_SCHEMAS = (CommitmentBatch,)
"""Models documented in the OpenAPI components though no signature names them: the batch body
is validated as a ReceivedBatch (every bad item reported), documented as a CommitmentBatch."""
