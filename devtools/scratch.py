"""Scratch databases on a PostgreSQL server: made and dropped by the tests and the benchmarks."""

from __future__ import annotations

import uuid

import asyncpg

from app.config import asyncpg_url


def plain(url: str) -> str:
    """`url` as asyncpg and libpq spell it (`postgresql://`, without a driver suffix)."""
    return "postgresql://" + asyncpg_url(url).split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    """`url` pointing at the database `name` of the same server (its query string kept)."""
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def create_scratch_database(url: str, prefix: str = "relance_test") -> str:
    """Create an empty database named `prefix_<random>` on the server of `url`; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str) -> None:
    """Drop the database of `url`, closing the connections still open to it."""
    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = with_database(url, "postgres")
    conn = await asyncpg.connect(plain(admin))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
