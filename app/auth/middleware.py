"""Authentication in the request pipeline: the bearer key resolved once, into request state.

Two steps, with the rate limit between them (app.main wires the order):

- `AuthenticationMiddleware` looks the key up once, in its own short session, and leaves the
  caller's Principal (None when anonymous) in `scope["state"]["principal"]`. An unknown or
  revoked key leaves a refusal beside it instead of answering at once, so that the rate limit,
  next, counts the failed attempt against the client's address.
- `KeyRequiredMiddleware` answers that refusal (401) before the request goes further, and
  refuses an anonymous body sent to a route that needs a key (its dependencies include a
  RoleRequirement) without reading it.

The route dependencies (app.auth.dependencies) only read the principal and check its role.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.dependencies import NO_KEY, RoleRequirement
from app.auth.repository import ApiKeyRepository
from app.auth.service import authenticate
from app.common.asgi import declares_body
from app.common.principal import PRINCIPAL, principal_of
from app.errors import (
    DATABASE_FAILURES,
    Unauthorized,
    database_failure,
    failure_cause,
    render,
)

logger = logging.getLogger("relance.auth")

API_PREFIX = "/v1/"
"""API keys authenticate the API only: probes, /metrics (HTTP Basic) and the docs never look one
up, so an `Authorization` meant for them is theirs to judge."""

REFUSAL = "authentication_refusal"
"""The request-state key of the 401 that KeyRequiredMiddleware answers."""


def bearer_token(scope: Scope) -> str | None:
    """The credentials of `Authorization: Bearer <token>`; None for any other header or none."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[PRINCIPAL] = None
        token = bearer_token(scope) if scope["path"].startswith(API_PREFIX) else None
        if token is not None:
            # Autocommit: the lookup, and at most once a minute the update of last_used_at.
            sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.read_sessionmaker
            try:
                async with sessionmaker() as session, session.begin():
                    principal = await authenticate(ApiKeyRepository(session), token)
            except DATABASE_FAILURES as exc:
                error = database_failure(exc)
                if error is None:
                    raise
                logger.warning("database %s: %s", error.reason.lower(), failure_cause(exc))
                await render(error)(scope, receive, send)
                return
            state[PRINCIPAL] = principal
            if principal is None:
                state[REFUSAL] = Unauthorized("The API key is unknown or revoked.")
        await self.app(scope, receive, send)


class _KeyRequired(Exception):
    """Raised into the route, instead of its body, when an anonymous caller sends one."""


class KeyRequiredMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needs_key: dict[int, bool] = {}  # by id() of the route: routes live as long

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: Unauthorized | None = scope.get("state", {}).get(REFUSAL)
        if refusal is not None:
            await render(refusal)(scope, receive, send)
            return
        if principal_of(scope) is not None or not declares_body(scope):
            # A keyed route's dependencies refuse an anonymous request without a body alike.
            await self.app(scope, receive, send)
            return
        # Anonymous: which route the request is for is known once the router has matched it
        # (scope["route"]), and FastAPI reads the body before it runs the route's dependencies.
        # So the first read of the body is where a keyed route refuses it, unread: the answer
        # the app gives to the aborted read is replaced by the 401 (as the body limit does).
        refused = False

        async def guarded_receive() -> Message:
            nonlocal refused
            if self._requires_a_key(scope.get("route")):
                refused = True
                raise _KeyRequired
            return await receive()

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        with contextlib.suppress(_KeyRequired):
            await self.app(scope, guarded_receive, guarded_send)
        if refused:
            await render(Unauthorized(NO_KEY))(scope, receive, send)

    def _requires_a_key(self, route: object) -> bool:
        if not isinstance(route, APIRoute):
            return False
        needs = self._needs_key.get(id(route))
        if needs is None:
            needs = self._needs_key[id(route)] = _requires_a_key(route.dependant)
        return needs


def _requires_a_key(dependant: Dependant) -> bool:
    return isinstance(dependant.call, RoleRequirement) or any(
        _requires_a_key(sub) for sub in dependant.dependencies
    )
