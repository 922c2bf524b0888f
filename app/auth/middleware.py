"""Authentication in the request pipeline: the bearer key resolved once, into request state.

Two steps, with the rate limit between them (app.main wires the order):

- `AuthenticationMiddleware` looks the key up once, in its own short session, and leaves the
  caller's Principal (None when anonymous) in `scope["state"]["principal"]`. An unknown or
  revoked key leaves a refusal beside it instead of answering at once, so that the rate limit,
  next, counts the failed attempt against the client's address.
- `KeyRequiredMiddleware` answers that refusal (401), and refuses an anonymous body sent to a
  route that needs a key (its dependencies include a RoleRequirement), before anything reads
  the body.

The route dependencies (app.auth.dependencies) only read the principal and check its role.
"""

from __future__ import annotations

import logging

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.dependencies import NO_KEY, RoleRequirement
from app.auth.repository import ApiKeyRepository
from app.auth.service import authenticate
from app.common.principal import PRINCIPAL, principal_of
from app.errors import DATABASE_FAILURES, Unauthorized, database_failure, render

logger = logging.getLogger("relance.auth")

REFUSAL = "authentication_refusal"
"""The request-state key of the 401 that KeyRequiredMiddleware answers."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
        token = bearer_token(scope)
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
                logger.warning("database %s: %s", error.reason.lower(), type(exc).__name__)
                await render(error)(scope, receive, send)
                return
            state[PRINCIPAL] = principal
            if principal is None:
                state[REFUSAL] = Unauthorized("The API key is unknown or revoked.")
        await self.app(scope, receive, send)


class KeyRequiredMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needs_key: dict[int, bool] = {}  # by id() of the route: routes live as long

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal: Unauthorized | None = scope.get("state", {}).get(REFUSAL)
            if refusal is None and self._anonymous_body_to_a_keyed_route(scope):
                refusal = Unauthorized(NO_KEY)
            if refusal is not None:
                await render(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _anonymous_body_to_a_keyed_route(self, scope: Scope) -> bool:
        # Only requests with a body: a GET is refused by the route's dependency at no cost.
        if scope["method"] not in _BODY_METHODS or principal_of(scope) is not None:
            return False
        route = _route(scope)
        if not isinstance(route, APIRoute):
            return False  # no such path or method: the router answers 404 or 405
        needs = self._needs_key.get(id(route))
        if needs is None:
            needs = self._needs_key[id(route)] = _requires_a_key(route.dependant)
        return needs


def _route(scope: Scope) -> BaseRoute | None:
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route  # type: ignore[no-any-return]
    return None


def _requires_a_key(dependant: Dependant) -> bool:
    return isinstance(dependant.call, RoleRequirement) or any(
        _requires_a_key(sub) for sub in dependant.dependencies
    )
