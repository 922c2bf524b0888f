"""Heavy requests in flight per client: 429 + Retry-After beyond RATE_LIMIT__HEAVY_CONCURRENT.

Aggregates, CSV exports and progress each group many rows; a rate limit counts requests, not
how long they run, so a few clients could keep every worker and connection busy with them. Each
client (its API key, else its address, as the rate limit counts it) may have this many heavy
requests in flight in a process; one more is refused at once, never queued. The count lives in
the process: what is in flight is, too (N replicas allow N times the limit). A CSV export counts
until it is sent or abandoned (AGGREGATES__EXPORT_STALL_SECONDS).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import TooManyRequests, render
from app.ratelimit.middleware import client_identity

RETRY_AFTER_SECONDS = 1


class TooManyConcurrent(TooManyRequests):
    reason = "TOO_MANY_CONCURRENT"


class HeavyRequestLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int, heavy_paths: Iterable[re.Pattern[str]]) -> None:
        self.app = app
        self.limit = limit
        self.heavy_paths = tuple(heavy_paths)
        self.in_flight: Counter[str] = Counter()

    def is_heavy(self, path: str) -> bool:
        return any(pattern.match(path) for pattern in self.heavy_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or not self.is_heavy(scope["path"]):
            await self.app(scope, receive, send)
            return
        identity, _ = client_identity(scope)
        if self.in_flight[identity] >= self.limit:
            refused = TooManyConcurrent(
                f"{self.limit} heavy requests (aggregates, exports, progress) of yours are "
                f"still running; retry once one has finished.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await render(refused)(scope, receive, send)
            return
        self.in_flight[identity] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[identity] -= 1
            if not self.in_flight[identity]:
                del self.in_flight[identity]
