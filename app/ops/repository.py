"""What the probes and the metrics ask the database."""

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Commitment


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema's Alembic revision; None on a database never migrated."""
    if (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar() is None:
        return None
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()


async def commitment_totals(conn: AsyncConnection) -> list[tuple[str, int, str, str]]:
    stmt = select(
        Commitment.status,
        func.count(),
        func.coalesce(func.sum(Commitment.amount), 0),
        func.coalesce(func.sum(Commitment.disbursed_amount), 0),
    ).group_by(Commitment.status)
    rows = (await conn.execute(stmt)).all()
    return [(status, int(n), str(total), str(paid)) for status, n, total, paid in rows]
