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
once). Only the last attempt's failure reaches the client: a 503 with Retry-After, as before.
Being innermost, the rate limit, the access log and the metrics count one request, and an
Idempotency-Key's claim holds across the attempts and stores the answer of the one that
committed. Reads never take part: they hold no locks that could close a cycle.
"""

from __future__ import annotations

import asyncio
import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import TRANSACTION_CONFLICT
from app.ops.metrics import TRANSACTION_RETRIES

logger = logging.getLogger("relance.retry")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TransactionRetryMiddleware:
    def __init__(self, app: ASGIApp, attempts: int = 4, pause_seconds: float = 0.02) -> None:
        self.app = app
        self.attempts = attempts
        self.pause_seconds = pause_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        read: list[Message] = []  # the body's messages, as the first attempt read them

        async def first_read() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                read.append(message)
            return message

        for attempt in range(1, self.attempts + 1):
            reading = first_read if attempt == 1 else _replay(read, receive)
            dropped = await self._attempt(scope, reading, send, last=attempt == self.attempts)
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
            if message["type"] == "http.response.start" and not last:
                conflict = state.pop(TRANSACTION_CONFLICT, None)
                dropped = None if conflict is None else str(conflict)
            if dropped is None:
                await send(message)

        await self.app(scope, receive, answer)
        state.pop(TRANSACTION_CONFLICT, None)  # set after the answer began: too late to rerun
        return dropped


def _replay(read: list[Message], receive: Receive) -> Receive:
    """The body's messages again, then whatever the client sends next (its disconnect)."""
    pending = list(read)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
