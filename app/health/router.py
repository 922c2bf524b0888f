"""Probes: /healthz (the process answers) and /readyz (database reachable, schema at head)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.common.http import problems
from app.errors import ServiceUnavailable
from app.health.repository import current_revision
from app.migrations import head_revision

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    revision: str | None


@router.get("/healthz", summary="Liveness: the process answers (no database call)")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: database reachable and schema at the migration head",
    responses=problems(503),
)
async def readyz(request: Request) -> Readiness:
    engine = request.app.state.engine
    timeout = request.app.state.settings.db.connect_timeout_seconds
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            revision = await current_revision(conn)
    except Exception as exc:  # any failure to reach the database means "not ready"
        raise ServiceUnavailable(
            f"The database is unreachable ({type(exc).__name__}).", headers={"Retry-After": "5"}
        ) from None
    if revision != head_revision():
        raise ServiceUnavailable(
            f"The schema is at {revision}, not at the migration head: run `relance migrate`.",
            headers={"Retry-After": "30"},
        )
    return Readiness(status="ready", database="ok", revision=revision)
