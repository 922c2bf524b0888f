"""OpenTelemetry traces, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a span per request
(FastAPI, around the whole pipeline), per SQL statement (SQLAlchemy, over asyncpg) and per
outgoing httpx call, exported over OTLP/HTTP. The exporter and the SDK read the standard
`OTEL_*` variables themselves (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, headers...).
Every log line written inside a span carries its `trace_id` and `span_id`."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.ops import logs

# Probes and scrapes would be most of the spans and tell nothing.
_NOT_TRACED = "healthz,readyz,metrics"


def current_ids() -> tuple[str, str] | None:
    """The (trace id, span id) of the current span, in the hex of the W3C trace context."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def instrument_app(app: FastAPI, settings: Settings) -> TracerProvider | None:
    """Trace `app` when an endpoint is configured; the provider is kept in `app.state` for the
    lifespan to instrument the engine with and to flush at shutdown."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    resource = Resource.create({"service.name": "relance-api", "service.version": app.version})
    provider = TracerProvider(resource=resource.merge(OTELResourceDetector().detect()))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=_NOT_TRACED)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    logs.trace_ids = current_ids
    app.state.tracer_provider = provider
    return provider


def instrument_engine(app: FastAPI, engine: AsyncEngine) -> None:
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        # The instrumentation declares SQLAlchemy < 2.1, but the engine events it listens to
        # are the same in 2.1 (tests/ops/test_observability.py sees the statements' spans).
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
        )


def shutdown(app: FastAPI) -> None:
    """Send the spans still buffered (a stopping pod's last requests)."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()
