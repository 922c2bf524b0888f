"""Probes and metrics: /healthz (process alive), /readyz (database and schema), /metrics."""

from __future__ import annotations

import asyncio
import base64
import hmac

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from app.common.http import problems
from app.config import Settings
from app.db import Session
from app.errors import Forbidden, ServiceUnavailable, Unauthorized
from app.migrations import head_revision, schema_is_behind
from app.ops import metrics
from app.ops.repository import commitment_totals, current_revision

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
    except Exception as exc:  # whatever the failure, the database is not usable: not ready
        raise ServiceUnavailable(
            f"The database is unreachable ({type(exc).__name__}).", headers={"Retry-After": "5"}
        ) from None
    if schema_is_behind(revision):
        raise ServiceUnavailable(
            f"The schema is at {revision}, behind this release's {head_revision()}: run "
            "`relance migrate`.",
            headers={"Retry-After": "30"},
        )
    return Readiness(status="ready", database="ok", revision=revision)


async def require_metrics_credentials(request: Request) -> None:
    """/metrics answers HTTP Basic METRICS__USERNAME:METRICS__PASSWORD when a password is set;
    without one, only while reads are public (it shows the commitments' totals and traffic)."""
    settings: Settings = request.app.state.settings
    password = settings.metrics.password
    if password is None:
        if settings.auth.read_requires_key:
            raise Forbidden(
                "Reads require a key and METRICS__PASSWORD is unset: set it to serve /metrics."
            )
        return
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        given = b""
    expected = f"{settings.metrics.username}:{password.get_secret_value()}".encode()
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
        refusal = Unauthorized(
            "/metrics needs HTTP Basic credentials (METRICS__USERNAME, METRICS__PASSWORD)."
        )
        refusal.headers["WWW-Authenticate"] = 'Basic realm="metrics"'
        raise refusal


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Behind HTTP Basic `METRICS__USERNAME`:`METRICS__PASSWORD` when a password is set (not "
        "an API key); refused while reads require a key and it is unset. Money in integer cents."
    ),
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problems(401, 403, 503),
    },
    dependencies=[Depends(require_metrics_credentials)],
)
async def get_metrics(request: Request, session: Session) -> Response:
    business = await commitment_totals(await session.connection())
    return Response(
        metrics.render(request.app.state.engine, business),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
