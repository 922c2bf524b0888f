"""/v1/api-keys: admins mint, list and revoke keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import admin_key
from app.auth.repository import ApiKeyRepository
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead
from app.auth.service import create_key
from app.common.http import DELETE_ERRORS, READ_ERRORS, WRITE_ERRORS, StrictRoute, problems
from app.common.principal import Principal
from app.db import Session
from app.errors import NotFound

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"], route_class=StrictRoute)
Admin = Annotated[Principal, Depends(admin_key)]


@router.post(
    "",
    summary="Create an API key (the secret is shown once)",
    description=(
        "The answer holds the new key's secret, this once: it is stored only as a digest, and "
        "the answer carries `Cache-Control: no-store`. With an `Idempotency-Key`, the answer is "
        "therefore not kept for replays: a retry of a request that created its key answers 409 "
        "`REQUEST_ALREADY_APPLIED` with that key's `Location` (revoke it and create another if "
        "the secret was lost). An unknown `partner_id` is a 422 naming `/partner_id`. "
        "`programme_ids` scopes an editor or partner key to those programmes; an unknown one "
        "is a 422 naming `/programme_ids/<n>`, and so is any scope on an admin key."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problems(*WRITE_ERRORS),
)
async def create_api_key(
    request: Request, response: Response, session: Session, _: Admin, data: ApiKeyCreate
) -> ApiKeyCreated:
    # An unknown partner_id is refused by the foreign key: 422 naming /partner_id.
    key, token = await create_key(
        ApiKeyRepository(session),
        name=data.name,
        role=data.role,
        partner_id=data.partner_id,
        programme_ids=data.programme_ids or (),
    )
    response.headers["Location"] = f"{request.url.path}/{key.id}"
    response.headers["Cache-Control"] = "no-store"  # the secret: never kept, by anyone
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=token)


@router.get(
    "",
    summary="List the active API keys (never their secrets)",
    response_model=ApiKeyList,
    responses=problems(*READ_ERRORS, 403),
)
async def list_api_keys(session: Session, _: Admin) -> ApiKeyList:
    keys = await ApiKeyRepository(session).active()
    return ApiKeyList(items=[ApiKeyRead.model_validate(k) for k in keys])


@router.delete(
    "/{api_key_id}",
    summary="Revoke an API key",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_api_key(session: Session, _: Admin, api_key_id: uuid.UUID) -> None:
    repo = ApiKeyRepository(session)
    key = await repo.get(api_key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No active API key has id {api_key_id}.")
    await repo.revoke(key)
