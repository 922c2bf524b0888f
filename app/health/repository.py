"""What readiness asks the database."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def current_revision(conn: AsyncConnection) -> str | None:
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()
