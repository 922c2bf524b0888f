"""Idempotency-Key on every POST and PUT: a retry gets the first answer instead of a second write.

A pure ASGI middleware, the last step of the pipeline before the route: authentication has put
the caller in request state (keys are scoped per API key) and the rate limit has let the request
through. The key is claimed in its own short transaction before the request runs: a duplicate
arriving meanwhile finds the claim (409 REQUEST_IN_PROGRESS), a replay finds the stored answer,
and the same key with another request is refused (422 IDEMPOTENCY_KEY_REUSED).

An answer is stored only when the request's transaction committed its writes (Stripe's rule):
the claim waits in request state as a `Claim` (an app.db.WriteClaim), the request's session marks
it applied in that same transaction just before committing, then marks it committed. A request
that wrote nothing (a 4xx, a 409 from a rolled-back transaction, a 5xx) releases its key, so the
same key may be retried and then succeeds.

An answer marked `Cache-Control: no-store` (the new API key's secret) is never stored: only its
status and headers are, and a replay answers 409 REQUEST_ALREADY_APPLIED with the Location of
what the first request created.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.principal import principal_of
from app.config import Settings
from app.db import WRITE_CLAIM
from app.errors import (
    DATABASE_FAILURES,
    AppError,
    Conflict,
    ErrorItem,
    InvalidParameter,
    ValidationFailed,
    database_failure,
    failure_cause,
    render,
)
from app.idempotency.repository import IdempotencyRepository, Stored

logger = logging.getLogger("relance.idempotency")

HEADER = "Idempotency-Key"
# Replayed as they were; the rest (dates, request ids) belong to each answer.
_KEPT_HEADERS = {"content-type", "location", "etag", "cache-control"}


class KeyReused(ValidationFailed):
    reason = "IDEMPOTENCY_KEY_REUSED"


class RequestInProgress(Conflict):
    reason = "REQUEST_IN_PROGRESS"


class RequestAlreadyApplied(Conflict):
    reason = "REQUEST_ALREADY_APPLIED"


@dataclass
class Claim:
    """This request owns the key: what its session records in the request's own transaction."""

    owner_id: uuid.UUID
    key: str
    committed: bool = False

    async def mark_applied(self, session: AsyncSession) -> None:
        await IdempotencyRepository(session).mark_applied(self.owner_id, self.key)

    def mark_committed(self) -> None:
        self.committed = True


def _header_error(detail: str) -> list[ErrorItem]:
    return [ErrorItem(parameter=HEADER, detail=detail)]


METHODS = frozenset({"POST", "PUT"})
"""POST creates; a PUT of a batch reports what it created and updated, which a retry would not
(it would find everything unchanged): both answer a retry with their first answer."""


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pending: list[Outcome] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        principal = principal_of(scope)
        if key is None or principal is None:  # keys are scoped per API key
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            invalid = InvalidParameter(
                f"{HEADER} must be 1 to 255 printable characters.",
                errors=_header_error("must be 1 to 255 printable characters"),
            )
            await render(invalid)(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(
            b"\n".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()
        state = scope["app"].state
        sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
        settings: Settings = state.settings
        options = settings.idempotency
        try:
            await _flush(sessionmaker, self.pending)
            async with sessionmaker() as session, session.begin():
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
            logger.warning("database %s for %s: %s", unavailable.reason, HEADER, failure_cause(exc))
            await render(unavailable)(scope, receive, send)
            return
        if stored is None:
            claim = Claim(principal.key_id, key)
            await self._run(scope, _replaying(body), send, sessionmaker, claim)
        elif stored.fingerprint == fingerprint and stored.status_code is not None:
            await _replay(stored, scope, receive, send)
        else:
            await render(_refusal(stored, fingerprint))(scope, receive, send)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        claim: Claim,
    ) -> None:
        scope.setdefault("state", {})[WRITE_CLAIM] = claim
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
        finally:
            answer: Answer | None = None
            if claim.committed and status < 500:
                body = None if _no_store(kept) else b"".join(chunks)
                answer = (status, json.dumps(kept), body)
            # Not committed: nothing was written, release the key. (Committed yet a 5xx: the
            # release leaves the applied key alone, and a retry is told it was applied.)
            await _record(sessionmaker, self.pending, (claim.owner_id, claim.key, answer))


def _refusal(stored: Stored, fingerprint: str) -> AppError:
    """Why a request cannot run under a key that is already taken."""
    if stored.fingerprint != fingerprint:
        return KeyReused(
            f"This {HEADER} was already used with another request.",
            errors=_header_error("was already used with another request"),
        )
    if stored.applied and stored.lease_expired:
        # Applied, and its answer not stored within the lease: it never will be.
        return RequestAlreadyApplied(
            f"The request with this {HEADER} was applied, but its answer could not be "
            "stored: do not send it again; read the resource instead.",
            errors=_header_error("was applied; its answer is lost"),
        )
    return RequestInProgress(
        f"A request with this {HEADER} is still running; retry shortly.",
        errors=_header_error("is in use by a request still running"),
        headers={"Retry-After": "1"},
    )


def _no_store(headers: list[list[str]] | list[Any] | None) -> bool:
    return any(
        name.lower() == "cache-control" and "no-store" in value.lower()
        for name, value in headers or []
    )


Answer = tuple[int, str, bytes | None]
"""(status, headers as JSON, body): what a replay sends; body None when it was withheld."""

Outcome = tuple[uuid.UUID, str, Answer | None]
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


async def _replay(stored: Stored, scope: Scope, receive: Receive, send: Send) -> None:
    """Send the stored answer again; one whose body was withheld (no-store) is a 409."""
    headers: list[list[str]] = stored.response_headers or []
    if stored.response_body is None and _no_store(headers):
        location = next((v for n, v in headers if n.lower() == "location"), None)
        withheld = RequestAlreadyApplied(
            f"The request with this {HEADER} was applied; its answer held a secret, which is "
            "shown once and never stored: use what the first answer gave you, or revoke "
            "what it created (its Location) and start again with a new key.",
            errors=_header_error("was applied; its answer is not kept"),
            headers={"Location": location} if location else None,
        )
        await render(withheld)(scope, receive, send)
        return
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    raw.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": stored.status_code, "headers": raw})
    await send({"type": "http.response.body", "body": stored.response_body or b""})
