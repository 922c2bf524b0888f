"""Idempotency-Key on every POST: a retry gets the first answer instead of a second write.

A pure ASGI middleware, so that it covers every POST route, present and future, and sees the
response exactly as sent. The key is claimed in its own short transaction before the request
runs: a duplicate arriving meanwhile finds the claim (409), a replay finds the stored answer,
and the same key with another request is refused (422). Keys are scoped per API key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.repository import ApiKeyRepository
from app.auth.service import authenticate
from app.config import Settings
from app.errors import (
    DATABASE_FAILURES,
    AppError,
    Conflict,
    ErrorItem,
    InvalidParameter,
    ValidationFailed,
    database_failure,
    render,
)
from app.idempotency.repository import IdempotencyRepository

logger = logging.getLogger("relance.idempotency")

HEADER = "Idempotency-Key"
# Replayed as they were; the rest (dates, request ids) belong to each answer.
_KEPT_HEADERS = {"content-type", "location", "etag"}


class KeyReused(ValidationFailed):
    reason = "IDEMPOTENCY_KEY_REUSED"


class RequestInProgress(Conflict):
    reason = "REQUEST_IN_PROGRESS"


class AnswerLost(Conflict):
    reason = "REQUEST_ALREADY_APPLIED"


CLAIM_STATE = "idempotency_claim"


async def mark_applied(request: Request, session: AsyncSession) -> None:
    """Before a request's commit: record, in that same transaction, that its key was applied."""
    claim = getattr(request.state, CLAIM_STATE, None)
    if claim is not None:
        await IdempotencyRepository(session).mark_applied(*claim)


def _header_error(detail: str) -> list[ErrorItem]:
    return [ErrorItem(parameter=HEADER, detail=detail)]


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pending: list[Outcome] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        if key is None or scheme.lower() != "bearer" or not token:
            await self.app(scope, receive, send)  # without a key, the route answers 401 itself
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            invalid = InvalidParameter(
                f"{HEADER} must be 1 to 255 printable characters.",
                errors=_header_error("must be 1 to 255 printable characters"),
            )
            await self._answer(invalid, scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(body)
        fingerprint = hashlib.sha256(
            b"\n".join([b"POST", scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        state = scope["app"].state
        sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
        settings: Settings = state.settings
        options = settings.idempotency
        try:
            await _flush(sessionmaker, self.pending)
            async with sessionmaker() as session, session.begin():
                principal = await authenticate(ApiKeyRepository(session), token)
                if principal is None:
                    stored = None
                else:
                    repo = IdempotencyRepository(session)
                    await repo.purge(options.ttl_hours)
                    stored = await repo.claim(
                        principal.key_id,
                        key,
                        fingerprint,
                        ttl_hours=options.ttl_hours,
                        lease_seconds=options.lease_seconds,
                    )
        except DATABASE_FAILURES as exc:
            # Outside the routes, so the app's handlers do not see it: answer as they would
            # (503 + Retry-After) rather than let it become a 500.
            unavailable = database_failure(exc)
            if unavailable is None:
                raise
            logger.warning("database unavailable for %s: %s", HEADER, type(exc).__name__)
            await self._answer(unavailable, scope, receive, send)
            return
        if principal is None:
            await self.app(scope, replay, send)  # an unknown key: the route answers 401
            return
        if stored is not None:
            if stored.fingerprint != fingerprint:
                error: AppError = KeyReused(
                    f"This {HEADER} was already used with another request.",
                    errors=_header_error("was already used with another request"),
                )
            elif stored.status_code is None and stored.applied and stored.lease_expired:
                # Applied, and its answer not stored within the lease: it never will be.
                error = AnswerLost(
                    f"The request with this {HEADER} was applied, but its answer could not be "
                    "stored: do not send it again; read the resource instead.",
                    errors=_header_error("was applied; its answer is lost"),
                )
            elif stored.status_code is None:
                error = RequestInProgress(
                    f"A request with this {HEADER} is still running; retry shortly.",
                    errors=_header_error("is in use by a request still running"),
                    headers={"Retry-After": "1"},
                )
            else:
                await _replay(
                    stored.status_code, stored.response_headers, stored.response_body, send
                )
                return
            await self._answer(error, scope, receive, send)
            return
        # The key was just checked: the route reuses this instead of looking it up again.
        scope.setdefault("state", {})["principal"] = principal
        await self._run(scope, replay, send, sessionmaker, principal.key_id, key)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        owner_id: Any,
        key: str,
    ) -> None:
        scope.setdefault("state", {})[CLAIM_STATE] = (owner_id, key)
        status = 500
        kept: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode("latin-1").lower() in _KEPT_HEADERS:
                        kept.append([name.decode("latin-1"), value.decode("latin-1")])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _record(sessionmaker, self.pending, (owner_id, key, None))
            raise
        if status >= 500:  # nothing was written: let the retry run again
            await _record(sessionmaker, self.pending, (owner_id, key, None))
        else:
            answer = (status, json.dumps(kept), b"".join(chunks))
            await _record(sessionmaker, self.pending, (owner_id, key, answer))

    @staticmethod
    async def _answer(error: AppError, scope: Scope, receive: Receive, send: Send) -> None:
        await render(error)(scope, receive, send)


Outcome = tuple[Any, str, tuple[int, str, bytes] | None]
"""(owner, key, answer): the answer to store, or None to release the key."""

# Outcomes this process could not write (the database was away), written as soon as it is
# back, before the next claim, rather than leaving the key claimed until its lease ends.
MAX_PENDING = 1000


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession], pending: list[Outcome], outcome: Outcome
) -> None:
    """Store the answer for replays, or release the key (answer None) so a retry runs again.

    The answer has been sent already: a database failure here is logged, not raised, since
    raising after the response only makes the server drop the client's connection. The outcome
    waits in `pending` and is written before this process claims the next key.
    """
    try:
        await _write(sessionmaker, outcome)
    except DATABASE_FAILURES as exc:
        if len(pending) < MAX_PENDING:
            pending.append(outcome)
        logger.warning(
            "could not %s %s after answering: %s; will retry when the database is back",
            "release" if outcome[2] is None else "store the answer to",
            HEADER,
            type(exc).__name__,
        )


async def _write(sessionmaker: async_sessionmaker[AsyncSession], outcome: Outcome) -> None:
    owner_id, key, answer = outcome
    async with sessionmaker() as session, session.begin():
        repo = IdempotencyRepository(session)
        if answer is None:
            await repo.release(owner_id, key)
        else:
            await repo.complete(owner_id, key, *answer)


async def _flush(sessionmaker: async_sessionmaker[AsyncSession], pending: list[Outcome]) -> None:
    """Write the outcomes left over from an outage; stop at the first failure."""
    while pending:
        outcome = pending.pop(0)  # taken first, so that two flushing requests never share one
        try:
            await _write(sessionmaker, outcome)
        except BaseException:
            pending.insert(0, outcome)
            raise


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _replay(status: int, headers: list[Any] | None, body: bytes | None, send: Send) -> None:
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers or []]
    raw.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body or b""})
