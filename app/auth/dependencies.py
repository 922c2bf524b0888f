"""Route dependencies over the caller that the authentication middleware resolved.

They read the Principal from request state (app.auth.middleware put it there) and check its
role: no database, no rate limiting here. `bearer` declares the HTTP bearer scheme, so that the
OpenAPI document shows which operations take a key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.common.principal import Principal, principal_of
from app.errors import Forbidden, Unauthorized
from app.models.enums import Role

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

NO_KEY = "Writes need an API key: `Authorization: Bearer <key>`."
SCOPED = (
    "A key scoped to programmes may not do this: it writes inside its programmes only, never "
    "the programmes themselves (creation, deletion) nor the partners they share."
)


async def optional_principal(request: Request, _: Credentials) -> Principal | None:
    """The caller's key, if any, as authenticated by the middleware (None: anonymous)."""
    return principal_of(request.scope)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def require_reader(request: Request, principal: OptionalPrincipal) -> None:
    """Reads are public unless AUTH__READ_REQUIRES_KEY is set."""
    if principal is None and request.app.state.settings.auth.read_requires_key:
        raise Unauthorized("This service requires an API key for reads too.")


class RoleRequirement:
    """A dependency admitting only keys with one of these roles.

    A class rather than a closure so that the authentication middleware can see, from a
    route's dependencies, that it needs a key, and refuse an anonymous body before reading it.
    """

    def __init__(self, *roles: Role, unscoped: bool = False) -> None:
        self.roles = frozenset(roles)
        self.unscoped = unscoped

    async def __call__(self, principal: OptionalPrincipal) -> Principal:
        if principal is None:
            raise Unauthorized(NO_KEY)
        if principal.role not in self.roles:
            raise Forbidden(f"A {principal.role.value} key may not do this.")
        if self.unscoped and principal.programme_ids is not None:
            raise Forbidden(SCOPED)
        return principal


def require_roles(*roles: Role, unscoped: bool = False) -> RoleRequirement:
    """A dependency admitting only keys with one of these roles (and, with `unscoped`, only
    keys that reach every programme)."""
    return RoleRequirement(*roles, unscoped=unscoped)


editor_key = require_roles(Role.admin, Role.editor)
"""Admins and editors: every write on the programmes' reference data (an editor key scoped to
programmes: inside them only, checked by the services)."""

shared_editor_key = require_roles(Role.admin, Role.editor, unscoped=True)
"""Admins and editors that reach every programme: what all programmes share (the partners)
and the set of programmes itself (creating or deleting one)."""

commitment_writer_key = require_roles(Role.admin, Role.editor, Role.partner)
"""Admins, editors and partner keys (the latter only for their own partner's commitments)."""

admin_key = require_roles(Role.admin)
"""Admins only: API keys."""
