"""Alembic environment: async engine, one advisory lock so that concurrent migrates queue up, and
the database's functions and triggers (app/models/sql) compared like the tables."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import register_entities
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import asyncpg_url, get_settings
from app.models import Base
from app.models.sql import ENTITIES

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# Only functions and triggers: the other kinds alembic_utils knows (grants, extensions…) are not
# declared here and would otherwise show up as entities to drop.
register_entities(ENTITIES, entity_types=[PGFunction, PGTrigger])

# Any constant works; it only has to be the same for every replica running `relance migrate`.
MIGRATION_LOCK_ID = 7_245_001


def _url() -> str:
    url = config.attributes.get("url")
    return asyncpg_url(url) if url else get_settings().sqlalchemy_url()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        # Held until commit: a second replica waits here, then finds the schema at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
asyncio.run(_run_async())
