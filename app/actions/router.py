"""/v1/actions: concrete projects inside one chantier."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.actions.schemas import (
    ActionBatch,
    ActionBatchBody,
    ActionCreate,
    ActionFilters,
    ActionKey,
    ActionRead,
    ActionUpdate,
)
from app.actions.service import ActionService
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
from app.common.schemas import UpsertResult
from app.db import ReplicaSession, Session
from app.models import Action

router = APIRouter(prefix="/v1/actions", tags=["actions"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]
Listing = Annotated[ListParams, Depends(page_params("code", Action.sortable))]
Filters = Annotated[ActionFilters, Depends(from_query(ActionFilters))]


@router.get(
    "",
    summary="List actions",
    response_model=Page[ActionRead],
    responses=problems(*READ_ERRORS),
)
async def list_actions(
    session: ReplicaSession, settings: AppSettings, params: Listing, filters: Filters
) -> Page[ActionRead]:
    rows, next_cursor = await ActionService(session, settings).list(params, filters)
    return Page[ActionRead].of(rows, next_cursor)


@router.get(
    "/{action_id}",
    summary="Get an action",
    response_model=ActionRead,
    responses=GET_RESPONSES,
)
async def get_action(
    response: Response,
    session: Session,
    settings: AppSettings,
    action_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> ActionRead | Response:
    action = await ActionService(session, settings).get(action_id)
    if is_current(if_none_match, action):
        return not_modified(action)
    with_etag(response, action)
    return ActionRead.model_validate(action)


@router.post(
    "",
    summary="Create an action",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionRead,
    responses=problems(*WRITE_ERRORS),
)
async def create_action(
    request: Request,
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    data: ActionCreate,
) -> ActionRead:
    action = await ActionService(session, settings, principal).create(data)
    created(response, request, action)
    return ActionRead.model_validate(action)


@router.put(
    "",
    summary="Create or replace a batch of up to 10,000 actions, all or nothing",
    description=(
        "Each item is a whole action, matched to a stored one by `code` (the default) or, with "
        "`match=external_id`, by `external_id` (then every item must carry one, and the batch "
        "may change codes). One statement and one transaction: if any item is bad, nothing is "
        "written and the 422 lists every bad item (`/items/5017/chantier_id`). An item "
        "identical to the stored action makes no new version. Safe to retry; with an "
        "`Idempotency-Key`, a retry gets the first answer (its counts) again."
    ),
    response_model=UpsertResult,
    responses=problems(*WRITE_ERRORS),
)
async def put_actions(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    batch: ActionBatchBody,
    match: Annotated[
        ActionKey, Query(description="The field that names the stored action an item replaces.")
    ] = ActionKey.code,
) -> UpsertResult:
    return await ActionService(session, settings, principal).put_batch(match, batch)


@router.patch(
    "/{action_id}",
    summary="Update an action (only the fields sent)",
    response_model=ActionRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def update_action(
    response: Response,
    session: Session,
    settings: AppSettings,
    principal: Writer,
    action_id: uuid.UUID,
    data: ActionUpdate,
    if_match: IfMatch = None,
) -> ActionRead:
    service = ActionService(session, settings, principal)
    action = await service.update(action_id, data, if_match)
    with_etag(response, action)
    return ActionRead.model_validate(action)


@router.delete(
    "/{action_id}",
    summary="Delete an action",
    description="Refused with 409 while the action has commitments.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*DELETE_ERRORS),
)
async def delete_action(
    session: Session,
    settings: AppSettings,
    principal: Writer,
    action_id: uuid.UUID,
    if_match: IfMatch = None,
) -> None:
    await ActionService(session, settings, principal).delete(action_id, if_match)


EXTRA_SCHEMAS = (ActionBatch,)
"""Documented in the OpenAPI components though no signature names it (see app.sync.router)."""
