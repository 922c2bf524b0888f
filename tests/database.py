"""The test database server: TEST_DATABASE_URL when set, otherwise the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg

from app import embedded
from app.config import asyncpg_url

ROOT = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """A URL to a database of the test server from which scratch databases are made."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    data_dir = Path(os.environ.get("TEST_EMBEDDED_DATA_DIR", ROOT / ".relance" / "test-pgdata"))
    return embedded.start(data_dir, database="postgres")


def plain(url: str) -> str:
    return "postgresql://" + asyncpg_url(url).split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def create_scratch_database(url: str, prefix: str = "relance_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = with_database(url, "postgres")
    conn = await asyncpg.connect(plain(admin))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
