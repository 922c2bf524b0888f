"""Rate limits per API key (and per client address without a key): a sliding window kept in
Redis when REDIS_URL is set, so that every replica counts together, in memory otherwise."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.config import RateLimitSettings
from app.errors import TooManyRequests

logger = logging.getLogger("relance.ratelimit")


class RateLimiter:
    def __init__(self, settings: RateLimitSettings, redis_url: str | None) -> None:
        self.per_key = parse(settings.per_key) if settings.per_key else None
        self.anonymous = parse(settings.anonymous) if settings.anonymous else None
        storage: Storage
        if redis_url:
            uri = redis_url.replace("redis://", "async+redis://", 1)
            storage = RedisStorage(uri, wrap_exceptions=True, key_prefix=settings.redis_prefix)
        else:
            storage = MemoryStorage()
        self.shared = redis_url is not None
        self.strategy = SlidingWindowCounterRateLimiter(storage)
        self._last_warning = 0.0

    @property
    def enabled(self) -> bool:
        return self.per_key is not None or self.anonymous is not None

    async def check(self, identity: str, authenticated: bool) -> None:
        """Count one request for `identity`; raise 429 once its window is full."""
        item = self.per_key if authenticated else self.anonymous
        if item is None:
            return
        try:
            allowed = await self.strategy.hit(item, identity)
            if allowed:
                return
            stats = await self.strategy.get_window_stats(item, identity)
        except Exception as exc:  # the limiter must never take the API down: fail open
            self._warn(exc)
            return
        raise _too_many(item, stats.reset_time)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            logger.warning("rate limit storage unavailable, not limiting: %s", type(exc).__name__)


def _too_many(item: RateLimitItem, reset_time: float) -> TooManyRequests:
    retry_after = max(1, math.ceil(reset_time - time.time()))
    return TooManyRequests(
        f"More than {item.amount} requests per {item.multiples} {item.GRANULARITY.name}; "
        f"retry in {retry_after} s.",
        headers={
            "Retry-After": str(retry_after),
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(retry_after),
        },
    )
