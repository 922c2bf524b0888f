"""Rate limit in the request pipeline: 429 + Retry-After before anything else runs.

It sits right after authentication: a caller with a valid key is counted against its key
(RATE_LIMIT__PER_KEY); anyone else, including a request whose key was refused, against its
client address (RATE_LIMIT__ANONYMOUS), so that guessing keys is limited too. The API
(`/v1/…`), /metrics (its Basic credentials are guessable too), the documentation and the OpenAPI
document are limited; only the probes /healthz and /readyz never are: an orchestrator polls them
every few seconds from one address, and a 429 there would restart a healthy instance.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.common.principal import principal_of
from app.errors import TooManyRequests, render
from app.ratelimit.service import RateLimiter

API_PREFIX = "/v1/"
UNLIMITED = frozenset({"/healthz", "/readyz"})


def is_limited(path: str) -> bool:
    """Everything but the probes: the API, /metrics, /docs, /redoc, /openapi.json, assets, and
    unknown paths too (a 404 costs as much as anything else to a scanner's target)."""
    return path not in UNLIMITED


def client_identity(scope: Scope) -> tuple[str, bool]:
    """Whom a request counts against: its API key when authenticated (True), else its client
    address (as FORWARDED_ALLOW_IPS lets the server believe it)."""
    principal = principal_of(scope)
    if principal is not None:
        return f"key:{principal.key_id}", True
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}", False


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.limiter.enabled and is_limited(scope["path"]):
            identity, authenticated = client_identity(scope)
            try:
                await self.limiter.check(identity, authenticated=authenticated)
            except TooManyRequests as refused:
                await render(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
