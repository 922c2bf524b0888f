"""/v1/actions/{id}/financing-plan: what an action costs, who pays which share, what is secured,
and what is left to finance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.dependencies import editor_key
from app.common.http import (
    DELETE_ERRORS,
    GET_RESPONSES,
    ITEM_WRITE_ERRORS,
    IfMatch,
    IfNoneMatch,
    StrictRoute,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.principal import Principal
from app.db import Session
from app.financing.schemas import (
    LEVERAGE_FORMULA,
    SECURED_FORMULA,
    SHARE_FORMULA,
    FinancingPlanInput,
    FinancingPlanRead,
)
from app.financing.service import FinancingService

router = APIRouter(prefix="/v1/actions", tags=["actions"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(editor_key)]

PLAN_PATH = "/{action_id}/financing-plan"
_READ = (
    "`planned` = Σ the lines' amounts; `gap` = eligible cost − planned (the *reste à "
    f"financer*). {SHARE_FORMULA} {SECURED_FORMULA} {LEVERAGE_FORMULA} Secured money is read "
    "from the commitments when the plan is read; the plan's version (its ETag) moves whenever "
    "its lines, its costs or the committed commitments it counts change, and each such change "
    "is an entry of the change feed (`financing_plans`, id = the action's) and of "
    "`/v1/financing_plans/{id}/history`."
)
_RULES = (
    "The eligible cost is at most the total cost; one line per partner and instrument, each "
    "above 0, for a partner that exists; the lines sum to at most the eligible cost (the "
    "database refuses more, whatever the writer, under concurrent writers too); the lead "
    "partner, when named, has a line."
)


@router.get(
    PLAN_PATH,
    summary="Get an action's financing plan: shares, secured money, gap, leverage",
    description=_READ,
    response_model=FinancingPlanRead,
    responses=GET_RESPONSES,
)
async def get_financing_plan(
    response: Response,
    session: Session,
    action_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> FinancingPlanRead | Response:
    plan = await FinancingService(session).get(action_id)
    if is_current(if_none_match, plan):
        return not_modified(plan)
    with_etag(response, plan)
    return plan


@router.put(
    PLAN_PATH,
    summary="Create or replace an action's financing plan",
    description=(
        f"{_RULES} 201 when the plan is created (If-Match: none, or `*`), 200 when it is "
        "replaced (If-Match honoured: 412 when stale); the current plan sent again writes "
        f"nothing. Editors of the action's programme and admins. {_READ}"
    ),
    response_model=FinancingPlanRead,
    responses={
        201: {"description": "Created", "model": FinancingPlanRead},
        **problems(*ITEM_WRITE_ERRORS),
    },
)
async def put_financing_plan(
    request: Request,
    response: Response,
    session: Session,
    principal: Writer,
    action_id: uuid.UUID,
    data: FinancingPlanInput,
    if_match: IfMatch = None,
) -> FinancingPlanRead:
    plan, created = await FinancingService(session, principal).put(action_id, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = request.url.path
    with_etag(response, plan)
    return plan


@router.delete(
    PLAN_PATH,
    summary="Delete an action's financing plan",
    description="If-Match honoured (412 when stale). The history keeps the plan's versions.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*DELETE_ERRORS),
)
async def delete_financing_plan(
    session: Session, principal: Writer, action_id: uuid.UUID, if_match: IfMatch = None
) -> Response:
    await FinancingService(session, principal).delete(action_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
