"""The innermost step of the pipeline: a write whose transaction PostgreSQL rolled back for a
conflict with another transaction runs again before its client hears of it.

A deadlock (40P01) aborts one of the transactions in the cycle, a serialization failure (40001)
one of two that cannot both commit; either way nothing of it is stored, and PostgreSQL's advice
is to run the whole transaction again. The roll-ups make such conflicts part of normal traffic:
a partner's batch (its UPDATE and INSERT statement triggers lock roll-up cells in two passes), a
payment (cash-flow cell, then the commitment's cell) and a single write of the same cells can
meet in opposite orders. A request is one transaction (app.db), so running the request again is
running its transaction again.

The error handler marks the request (`TRANSACTION_CONFLICT` in request state) when it answers
such a failure; this step then drops that answer, before a byte of it was sent, and calls the
route again with the body it read the first time, up to `attempts` times in all, each after a
short random pause that grows with the attempt (two victims of one cycle do not meet again at
once; no rerun begins after `budget_seconds`). Only the last attempt's failure reaches the
client: a 503 with Retry-After, as before, logged as a warning here; a conflict that was rerun
is logged at info (it cost its request time, not an answer).
Being innermost, the rate limit, the access log and the metrics count one request, and an
Idempotency-Key's claim holds across the attempts and stores the answer of the one that
committed. Reads never take part: they hold no locks that could close a cycle.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import RERUN_METHODS, TRANSACTION_CONFLICT
from app.ops.metrics import TRANSACTION_RETRIES

logger = logging.getLogger("relance.retry")


class TransactionRetryMiddleware:
    """`attempts` in all; no rerun begins once `budget_seconds` have passed since the first
    attempt began, so that every attempt ends well within an Idempotency-Key's lease
    (IDEMPOTENCY__LEASE_SECONDS, 120 s by default), after which a resent key takes over."""

    def __init__(
        self,
        app: ASGIApp,
        attempts: int = 4,
        pause_seconds: float = 0.02,
        budget_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self.attempts = attempts
        self.pause_seconds = pause_seconds
        self.budget_seconds = budget_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in RERUN_METHODS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        body = _Body(receive)
        started = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts or time.monotonic() - started > self.budget_seconds
            dropped = await self._attempt(scope, body.reader(), send, last=last)
            if dropped is None:
                return
            TRANSACTION_RETRIES.labels(sqlstate=dropped).inc()
            logger.info(
                "transaction rolled back for a conflict (%s), running it again (attempt %d of %d)",
                dropped,
                attempt + 1,
                self.attempts,
            )
            await asyncio.sleep(self.pause_seconds * attempt * random.uniform(0.5, 1.5))  # noqa: S311

    async def _attempt(
        self, scope: Scope, receive: Receive, send: Send, *, last: bool
    ) -> str | None:
        """Run the route once; the SQLSTATE of the conflict whose answer was dropped, if one was."""
        state: dict[str, object] = scope["state"]
        dropped: str | None = None

        async def answer(message: Message) -> None:
            nonlocal dropped
            if message["type"] == "http.response.start":
                conflict = state.pop(TRANSACTION_CONFLICT, None)
                if conflict is not None and not last:
                    dropped = str(conflict)
                elif conflict is not None:
                    logger.warning(
                        "transaction rolled back for a conflict (%s) on its last attempt:"
                        " answered 503",
                        conflict,
                    )
            if dropped is None:
                await send(message)

        await self.app(scope, receive, answer)
        state.pop(TRANSACTION_CONFLICT, None)  # set after the answer began: too late to rerun
        return dropped


class _Body:
    """The request's body as read from the client, once: each attempt reads the messages some
    attempt read before, then the client (and what it reads from there is kept too)."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.read: list[Message] = []

    def reader(self) -> Receive:
        position = 0

        async def read() -> Message:
            nonlocal position
            if position < len(self.read):
                position += 1
                return self.read[position - 1]
            message = await self.receive()
            if message["type"] == "http.request":
                self.read.append(message)
                position += 1
            return message

        return read
