"""API keys: minted once, stored as a digest, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.auth.repository import ApiKeyRepository
from app.common.principal import Principal
from app.common.rules import reference_errors, repeated_errors
from app.errors import ErrorItem, ValidationFailed
from app.models import ApiKey, ApiKeyProgramme, Programme
from app.models.enums import Role

KEY_PREFIX = "rk_"
TOUCH_EVERY = timedelta(minutes=1)
"""How often a key's last_used_at is updated: a read costs no write most of the time."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    if not token.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = token[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12:
        return None
    return prefix, token


def _programme_pointer(n: int) -> str:
    return f"/programme_ids/{n}"


async def _scope_errors(
    repo: ApiKeyRepository, role: Role, programme_ids: Sequence[uuid.UUID]
) -> list[ErrorItem]:
    """An admin key is never scoped (it mints keys: a scope would bound nothing, and the
    database refuses it too); each programme exists, once."""
    if role is Role.admin and programme_ids:
        return [ErrorItem(pointer="/programme_ids", detail="an admin key reaches every programme")]
    return await reference_errors(
        repo, Programme, "programme", programme_ids, _programme_pointer
    ) + repeated_errors(programme_ids, _programme_pointer)


async def create_key(
    repo: ApiKeyRepository,
    *,
    name: str,
    role: Role,
    partner_id: uuid.UUID | None,
    programme_ids: Sequence[uuid.UUID] = (),
) -> tuple[ApiKey, str]:
    """Mint a key, scoped to these programmes if any are given (none: every programme); the
    clear token is returned once and never stored."""
    errors = await _scope_errors(repo, role, programme_ids)
    if errors:
        raise ValidationFailed("The key's programmes are invalid.", errors=errors)
    prefix = secrets.token_hex(6)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        role=role.value,
        partner_id=partner_id,
        prefix=prefix,
        secret_hash=_digest(token),
        programme_links=[
            ApiKeyProgramme(programme_id=p, role=role.value) for p in sorted(programme_ids)
        ],
    )
    await repo.add(key)
    return key, token


async def authenticate(repo: ApiKeyRepository, token: str) -> Principal | None:
    """The key's Principal, or None when the token is malformed, unknown or revoked."""
    parts = _split(token)
    if parts is None:
        return None
    found = await repo.by_prefix(parts[0])
    # Compare digests in constant time, also when the prefix is unknown.
    expected = found[0].secret_hash if found is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(token)) or found is None:
        return None
    key, programme_ids = found
    if key.last_used_at is None or key.last_used_at < datetime.now(UTC) - TOUCH_EVERY:
        await repo.touch(key)  # which checks the minute again, on the database's clock
    scope = frozenset(programme_ids) if programme_ids is not None else None
    return Principal(key.id, key.name, Role(key.role), key.partner_id, scope)
