"""API keys: minted once, stored as a digest, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from app.auth.repository import ApiKeyRepository
from app.common.principal import Principal
from app.models import ApiKey
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


async def create_key(
    repo: ApiKeyRepository, *, name: str, role: Role, partner_id: uuid.UUID | None
) -> tuple[ApiKey, str]:
    """Mint a key; the clear token is returned once and never stored."""
    prefix = secrets.token_hex(6)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, role=role.value, partner_id=partner_id, prefix=prefix, secret_hash=_digest(token)
    )
    await repo.add(key)
    return key, token


async def authenticate(repo: ApiKeyRepository, token: str) -> Principal | None:
    """The key's Principal, or None when the token is malformed, unknown or revoked."""
    parts = _split(token)
    if parts is None:
        return None
    key = await repo.by_prefix(parts[0])
    # Compare digests in constant time, also when the prefix is unknown.
    expected = key.secret_hash if key is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(token)) or key is None:
        return None
    if key.last_used_at is None or key.last_used_at < datetime.now(UTC) - TOUCH_EVERY:
        await repo.touch(key)  # which checks the minute again, on the database's clock
    return Principal(key.id, key.name, Role(key.role), key.partner_id)
