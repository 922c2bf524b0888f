"""/v1/commitments/{id}/schedule: a commitment's payments planned year by year, and its versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.auth.dependencies import commitment_writer_key
from app.common.http import (
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
from app.schedules.schemas import ScheduleInput, ScheduleRead, ScheduleVersions
from app.schedules.service import ScheduleService

router = APIRouter(prefix="/v1/commitments", tags=["commitments"], route_class=StrictRoute)
Writer = Annotated[Principal, Depends(commitment_writer_key)]

_RULES = (
    "The lines sum to the commitment's `amount` exactly, one per year, none before the "
    "commitment's `year` (years may run past the programme's end). A commitment created "
    "without a schedule has one line: its year, its amount. A one-line schedule follows its "
    "commitment's amount and year; a schedule of several lines changes with them in one "
    "request (PATCH the commitment with `amount` and `schedule`)."
)


@router.get(
    "/{commitment_id}/schedule",
    summary="Get a commitment's schedule (its current version)",
    description=_RULES,
    response_model=ScheduleRead,
    responses=GET_RESPONSES,
)
async def get_schedule(
    response: Response,
    session: Session,
    commitment_id: uuid.UUID,
    if_none_match: IfNoneMatch = None,
) -> ScheduleRead | Response:
    schedule = await ScheduleService(session).get(commitment_id)
    if is_current(if_none_match, schedule):
        return not_modified(schedule)
    with_etag(response, schedule)
    return schedule


@router.put(
    "/{commitment_id}/schedule",
    summary="Replace a commitment's schedule (a new revised version)",
    description=(
        f"{_RULES} Writes a new `revised` version with the optional `reason`; lines equal to "
        "the current ones write nothing. Partner keys write only their own partner's "
        "commitments."
    ),
    response_model=ScheduleRead,
    responses=problems(*ITEM_WRITE_ERRORS),
)
async def put_schedule(
    response: Response,
    session: Session,
    principal: Writer,
    commitment_id: uuid.UUID,
    data: ScheduleInput,
    if_match: IfMatch = None,
) -> ScheduleRead:
    schedule = await ScheduleService(session, principal).put(commitment_id, data, if_match)
    with_etag(response, schedule)
    return schedule


@router.get(
    "/{commitment_id}/schedule/versions",
    summary="List every version of a commitment's schedule, with who and when",
    response_model=ScheduleVersions,
    responses=problems(400, 401, 404, 429, 503),
)
async def list_schedule_versions(session: Session, commitment_id: uuid.UUID) -> ScheduleVersions:
    return ScheduleVersions(items=await ScheduleService(session).versions(commitment_id))
