"""The pipeline's first step: the request id, one JSON log line, and the HTTP metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.principal import principal_of
from app.errors import AppError, render
from app.ops.logs import request_id_var
from app.ops.metrics import LATENCY, REQUESTS

logger = logging.getLogger("relance.access")
error_logger = logging.getLogger("relance.errors")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


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
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
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
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
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
