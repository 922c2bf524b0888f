"""FastAPI dependencies that turn the Authorization header into a Principal, or refuse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.repository import ApiKeyRepository
from app.auth.service import authenticate
from app.common.principal import Principal
from app.db import Session
from app.errors import Forbidden, Unauthorized
from app.models.enums import Role
from app.ratelimit.service import RateLimiter

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def optional_principal(
    request: Request, session: Session, credentials: Credentials
) -> Principal | None:
    """The caller's key, if any; counted against its rate limit (or its address's, without).

    A dependency, so FastAPI resolves it once per request however many others need it.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    if credentials is None:
        if limiter.enabled:
            host = request.client.host if request.client else "unknown"
            await limiter.check(f"addr:{host}", authenticated=False)
        return None
    repo = ApiKeyRepository(session)
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:  # checked a moment ago by the Idempotency-Key middleware
        await repo.set_actor(principal.name, principal.role.value)  # for this transaction
    else:
        principal = await authenticate(repo, credentials.credentials)
        if principal is None:
            raise Unauthorized("The API key is unknown or revoked.")
        request.state.principal = principal
    if limiter.enabled:
        await limiter.check(f"key:{principal.key_id}", authenticated=True)
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def require_reader(request: Request, principal: OptionalPrincipal) -> None:
    """Reads are public unless AUTH__READ_REQUIRES_KEY is set."""
    if principal is None and request.app.state.settings.auth.read_requires_key:
        raise Unauthorized("This service requires an API key for reads too.")


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only keys with one of these roles."""

    async def dependency(principal: OptionalPrincipal) -> Principal:
        if principal is None:
            raise Unauthorized("Writes need an API key: `Authorization: Bearer <key>`.")
        if principal.role not in roles:
            raise Forbidden(f"A {principal.role.value} key may not do this.")
        return principal

    return dependency


editor_key = require_roles(Role.admin, Role.editor)
"""Admins and editors: every write on the programme's reference data."""

commitment_writer_key = require_roles(Role.admin, Role.editor, Role.partner)
"""Admins, editors and partner keys (the latter only for their own partner's commitments)."""

admin_key = require_roles(Role.admin)
"""Admins only: API keys."""
