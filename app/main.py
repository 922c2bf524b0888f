"""The application factory: settings, engine in the lifespan, routers and the error handlers."""

from __future__ import annotations

import gc
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import compile_path

from app.actions.router import EXTRA_SCHEMAS as ACTION_SCHEMAS
from app.actions.router import router as actions_router
from app.auth.dependencies import require_reader
from app.auth.middleware import AuthenticationMiddleware, KeyRequiredMiddleware
from app.auth.router import router as api_keys_router
from app.cashflow.router import HEAVY_PATHS as CASHFLOW_HEAVY_PATHS
from app.cashflow.router import router as cashflow_router
from app.changes.router import router as changes_router
from app.chantiers.router import router as chantiers_router
from app.commitments.router import router as commitments_router
from app.common.direct import direct_routes
from app.common.principal import principal_of
from app.config import Settings, get_settings
from app.db import READ_AFTER, Replica, create_engine, create_read_sessionmaker, create_sessionmaker
from app.docs.openapi import refine
from app.docs.router import router as docs_router
from app.errors import PROBLEM_JSON, install_error_handlers
from app.financing.router import HEAVY_PATHS as FINANCING_HEAVY_PATHS
from app.financing.router import cube_router as financing_cube_router
from app.financing.router import router as financing_router
from app.idempotency.middleware import IdempotencyMiddleware
from app.indicators.router import EXTRA_SCHEMAS as INDICATOR_SCHEMAS
from app.indicators.router import router as indicators_router
from app.milestones.router import router as milestones_router
from app.opendata.router import router as opendata_router
from app.ops import tracing
from app.ops.body_limit import BodySizeLimitMiddleware
from app.ops.body_read import BodyReadMiddleware
from app.ops.middleware import RequestContextMiddleware
from app.ops.retry import TransactionRetryMiddleware
from app.ops.router import router as ops_router
from app.overview.router import router as overview_router
from app.partners.router import EXTRA_SCHEMAS as PARTNER_SCHEMAS
from app.partners.router import router as partners_router
from app.payments.router import EXTRA_SCHEMAS as PAYMENT_SCHEMAS
from app.payments.router import router as payments_router
from app.priorities.router import router as priorities_router
from app.programmes.router import router as programmes_router
from app.ratelimit.concurrency import HeavyRequestLimitMiddleware
from app.ratelimit.middleware import RateLimitMiddleware
from app.ratelimit.service import RateLimiter
from app.reporting.router import HEAVY_PATHS
from app.reporting.router import router as reporting_router
from app.schedules.router import router as schedules_router
from app.sync.router import EXTRA_SCHEMAS
from app.sync.router import router as sync_router
from app.territories.router import router as territories_router

DESCRIPTION = """
Follow a public recovery and investment programme: priorities, chantiers, actions and the
budget commitments behind them, euro by euro, year by year.

* **Money** is a decimal string with at most two decimals in (`"1250"`, `"1250.5"`,
  `"1250.50"`) and exactly two out (`"1250.50"`); a JSON number, an exponent, `NaN` or a third
  decimal is refused, never rounded. Currency: EUR.
* **Errors** are `application/problem+json` with a stable `reason`; validation errors list
  `errors[]` with a JSON `pointer` into the body (or the `parameter` at fault).
* **Lists** are cursor-paginated: `limit` (1–500, default 50), `cursor` (the previous page's
  `next_cursor`), `sort` (e.g. `-amount,year`). Unknown parameters are refused (400).
* **Concurrency**: every resource has a strong `ETag`; send it in `If-Match` on `PATCH` and
  `DELETE` to get 412 instead of overwriting someone else's change.
* **Access**: reads are public by default; writes need `Authorization: Bearer <key>`. A key
  scoped to programmes writes inside them only: another programme's priorities, chantiers,
  actions, commitments and the programme itself answer 404 like missing ones, and a body
  naming them is a 422 as for a missing one; it may not create or delete programmes nor
  write the partners all programmes share (403).
"""

TAGS = [
    {"name": "priorities", "description": "The programme's cross-cutting impératifs."},
    {"name": "chantiers", "description": "Priority workstreams, with yearly targets."},
    {"name": "actions", "description": "Concrete projects inside a chantier."},
    {"name": "partners", "description": "Organisations that finance or carry actions."},
    {"name": "commitments", "description": "Money a partner commits to an action for a year."},
    {"name": "payments", "description": "The dated money actually paid on a commitment."},
    {
        "name": "aggregates",
        "description": (
            "Planned, committed and disbursed sums by priority, chantier, action, partner, "
            "year, status, instrument and commune; progress against targets. Exact to the "
            "cent after every committed write."
        ),
    },
    {"name": "territories", "description": "Communes, EPCI, départements and régions (INSEE)."},
    {"name": "sync", "description": "Partners push their commitments by their own reference."},
    {"name": "api-keys", "description": "Admins mint, list and revoke keys."},
    {"name": "operations", "description": "Probes for orchestrators."},
]


class UnsafeSettings(RuntimeError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("refusing to start in production: " + "; ".join(problems))


def attach_database(
    app: FastAPI,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    read_engine: AsyncEngine | None = None,
) -> None:
    """Serve `app` from `engine` (and its lists, aggregates, exports and feed from
    `read_engine`, a replica); tests pass one sessionmaker bound to their transaction."""
    autocommit = not app.state.settings.database_pgbouncer
    app.state.engine = engine
    app.state.read_engine = read_engine
    app.state.sessionmaker = sessionmaker or create_sessionmaker(engine)
    app.state.read_sessionmaker = sessionmaker or create_read_sessionmaker(
        engine, autocommit=autocommit
    )
    app.state.replica = None
    if read_engine is not None:
        app.state.replica = Replica(
            read_sessionmaker=create_read_sessionmaker(read_engine, autocommit=autocommit),
            sessionmaker=create_sessionmaker(read_engine),
        )


DIRECT_READS = ("get_commitment", "list_commitments")
"""The GET routes run without FastAPI's request handling (app.common.direct): those whose
endpoint answers a Response from plain rows (app.common.rows)."""


async def _require_reader(request: Request) -> None:
    """`require_reader` with the principal the authentication middleware resolved."""
    await require_reader(request, principal_of(request.scope))


YOUNG_COLLECTION_THRESHOLD = 20_000
"""Allocations between two collections of the cyclic collector's youngest generation."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    owns_engine = getattr(app.state, "engine", None) is None
    if owns_engine:
        settings: Settings = app.state.settings
        read_url = settings.sqlalchemy_read_url()
        read_engine = create_engine(settings, url=read_url) if read_url else None
        attach_database(app, create_engine(settings), read_engine=read_engine)
    tracing.instrument_engine(app, app.state.engine)
    # What exists now (routes, validators, SQLAlchemy metadata, modules) lives as long as the
    # process: freeze it out of the cyclic collector's sight. Otherwise the collections that a
    # request allocating many objects triggers (a 10,000-item batch: 10,000 models) walk the
    # whole heap each time; validating such a batch took 100 ms instead of 37 ms.
    gc.collect()
    gc.freeze()
    # And collect the young generation every YOUNG_COLLECTION_THRESHOLD allocations, not 700:
    # such a batch then triggers a couple of young collections instead of ~80, and seldom a
    # full one (its GC time 8-30 ms -> about 5 ms; unchanged payment batches 0.49x -> 0.55x
    # raw asyncpg in the same run). What waits is at most that many young objects.
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    try:
        yield
    finally:
        if owns_engine:
            await app.state.engine.dispose()
            if app.state.read_engine is not None:
                await app.state.read_engine.dispose()
        tracing.shutdown(app)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.env == "production" and settings.production_problems():
        raise UnsafeSettings(settings.production_problems())
    app = FastAPI(
        title="Relance API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
        separate_input_output_schemas=True,
        docs_url=None,  # served by app.docs from pinned assets, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = None
    app.state.replica = None
    install_error_handlers(app)
    _secure_unexpected_errors(app)
    _add_pipeline(app, settings)
    app.include_router(ops_router)
    app.include_router(docs_router)
    app.include_router(overview_router)  # public figures only: it checks that reads are public
    reader = [Depends(require_reader)]
    # Routes match in order: the most requested resources first.
    for router in (
        commitments_router,
        payments_router,
        schedules_router,
        reporting_router,
        cashflow_router,
        financing_router,
        financing_cube_router,
        actions_router,
        milestones_router,
        chantiers_router,
        partners_router,
        priorities_router,
        programmes_router,
        sync_router,
        changes_router,
        territories_router,
        indicators_router,
        opendata_router,
        api_keys_router,
    ):
        app.include_router(router, dependencies=reader)
    # In front of their FastAPI routes: the most requested plain reads (app.common.direct).
    app.router.routes[0:0] = direct_routes(
        app.router.routes, DIRECT_READS, {require_reader: _require_reader}
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    tracing.instrument_app(app, settings)  # outermost: the span covers the whole pipeline
    return app


def _secure_unexpected_errors(app: FastAPI) -> None:
    """A 500 is answered by Starlette's outermost middleware, outside the pipeline (and so
    outside RequestContextMiddleware's headers): give it nosniff too."""
    handler = app.exception_handlers[Exception]

    async def with_headers(request: Request, exc: Exception) -> Response:
        answered = handler(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.exception_handlers[Exception] = with_headers


def _add_pipeline(app: FastAPI, settings: Settings) -> None:
    """The request pipeline (DESIGN.md), outermost first:

    request id and access log -> CORS -> body size limit -> authentication (the key resolved
    once, into request state) -> rate limit (429 before anything else runs; refused keys count
    against their address) -> key required (401 for a refused key, or for an anonymous body to a
    route that needs a key, before the body is read) -> heavy requests in flight per client
    (429 beyond RATE_LIMIT__HEAVY_CONCURRENT) -> body read whole within a deadline (408)
    and JSON nested too deep refused (400) -> Idempotency-Key (an answer stored only
    when the request's transaction committed) -> a write whose transaction lost a deadlock or
    a serialization conflict runs again (app.ops.retry) -> the route, in one transaction (app.db).
    """
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    limiter = RateLimiter(settings.rate_limit, redis_url)
    # add_middleware wraps what is there already: added innermost first.
    app.add_middleware(TransactionRetryMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyReadMiddleware, timeout_seconds=settings.body_read_timeout_seconds)
    app.add_middleware(
        HeavyRequestLimitMiddleware,
        limit=settings.rate_limit.heavy_concurrent,
        heavy_paths=[
            compile_path(path)[0]
            for path in (*HEAVY_PATHS, *CASHFLOW_HEAVY_PATHS, *FINANCING_HEAVY_PATHS)
        ],
    )
    app.add_middleware(KeyRequiredMiddleware)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(AuthenticationMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # before authentication: preflights and 401s get CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match",
                           "Idempotency-Key", "X-Request-ID", READ_AFTER],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", READ_AFTER],
        )  # fmt: skip
    app.add_middleware(RequestContextMiddleware)  # outermost: ids and logs cover everything


def _add_links(schema: dict[str, Any]) -> None:
    """Declare create -> get / update / delete links, for clients and stateful testing."""
    operations = {
        op["operationId"]: op for item in schema["paths"].values() for op in item.values()
    }
    for operation_id, operation in operations.items():
        if not operation_id.startswith("create_") or "201" not in operation["responses"]:
            continue
        noun = operation_id.removeprefix("create_")
        links = {
            f"{verb.capitalize()}{noun.title().replace('_', '')}": {
                "operationId": f"{verb}_{noun}",
                "parameters": {f"{noun}_id": "$response.body#/id"},
                "description": f"The {noun} just created.",
            }
            for verb in ("get", "update", "delete")
            if f"{verb}_{noun}" in operations
        }
        operation["responses"]["201"]["links"] = links


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with error responses served only as problem+json."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (
        *EXTRA_SCHEMAS,
        *PAYMENT_SCHEMAS,
        *ACTION_SCHEMAS,
        *PARTNER_SCHEMAS,
        *INDICATOR_SCHEMAS,
    ):
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components[model.__name__] = extra
    for path in schema["paths"].values():
        for operation in path.values():
            responses = operation.get("responses", {})
            for code, response in list(responses.items()):
                content = response.get("content", {})
                if code.startswith(("4", "5")) and PROBLEM_JSON in content:
                    content.pop("application/json", None)
                elif code == "422":  # FastAPI's default; our parameter errors are 400 or 404
                    del responses[code]
    _add_links(schema)
    refine(schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema
