"""The pipeline's first step: the request id, one JSON log line, the HTTP metrics, and the
headers every answer carries (`X-Content-Type-Options: nosniff`; a redirect's `Location`
relative, never built from the client's `Host`)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import urlsplit

from fastapi.routing import iter_route_contexts
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.principal import principal_of
from app.db import READ_AFTER
from app.errors import AppError, render
from app.ops.logs import request_id_var
from app.ops.metrics import LATENCY, REQUESTS

logger = logging.getLogger("relance.access")
error_logger = logging.getLogger("relance.errors")

READ_AFTER_HEADER = READ_AFTER.lower().encode()
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def relative_location(location: bytes) -> bytes:
    """`http://evil.example/v1/x?y` -> `/v1/x?y`: Starlette's trailing-slash redirect copies
    the request's `Host` into `Location`; a relative reference needs no host at all."""
    parts = urlsplit(location.decode("latin-1"))
    if not parts.scheme and not parts.netloc:
        return location
    path = parts.path or "/"
    path = "/" + path.lstrip("/")  # never `//host`: a scheme-relative URL is absolute too
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


def secure_headers(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Every answer: nosniff (no browser guesses HTML out of a CSV or a problem+json)."""
    headers = [(k, v) for k, v in headers if k.lower() != b"x-content-type-options"]
    headers.append((b"x-content-type-options", b"nosniff"))
    if 300 <= status < 400:
        headers = [(k, relative_location(v) if k.lower() == b"location" else v) for k, v in headers]
    return headers


def route_template(scope: Scope) -> str:
    """The route template a request was for, for metrics and logs. The router sets it on the
    requests it reaches; those answered before it (an idempotent replay, a 401, a 413, a 429)
    are matched here against the app's routes, so they are counted under their route too.
    Only paths no route knows are `unmatched` (a bounded label, whatever clients send)."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", None) or "unmatched"
    partial = None
    # The routes as the router sees them, those of included routers too.
    for context in iter_route_contexts(getattr(scope.get("app"), "routes", ())):
        match, _ = context.original_route.matches(scope)
        if match is Match.FULL:
            return context.path or "unmatched"
        if match is Match.PARTIAL and partial is None:
            partial = context.path  # the path, another method: a 405
    return partial or "unmatched"


class RequestContextMiddleware:
    """Accept or make `X-Request-ID`, echo it, and log and measure every request by route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = secure_headers(status, list(message.get("headers", [])))
                headers.append((b"x-request-id", request_id.encode()))
                read_after = scope.get("state", {}).get("read_after")
                if read_after is not None:  # a committed write, with a read replica (app.db)
                    headers.append((READ_AFTER_HEADER, read_after.encode()))
                message["headers"] = headers
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                # Answered here, inside the request id, and logged once: left to Starlette's
                # outermost handler, a 500 had no X-Request-ID and its traceback was logged by
                # that handler and again by the server.
                if answered:
                    raise
                error_logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
                unexpected = AppError("An unexpected error occurred; it has been logged.")
                await render(unexpected)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = route_template(scope)
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            principal = principal_of(scope)
            logger.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={
                    "method": scope["method"],
                    "route": template,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "key_name": principal.name if principal is not None else None,
                },
            )
            request_id_var.reset(token)
