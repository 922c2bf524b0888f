"""What the probes and the metrics ask the database."""

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import CommitmentRollup


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema's Alembic revision; None on a database never migrated."""
    if (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar() is None:
        return None
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()


async def commitment_totals(conn: AsyncConnection) -> list[tuple[str, int, str, str]]:
    """Commitments by status, read from the roll-up: a few thousand rows, not the whole table."""
    stmt = select(
        CommitmentRollup.status,
        func.sum(CommitmentRollup.commitment_count),
        func.sum(CommitmentRollup.amount_sum),
        func.sum(CommitmentRollup.disbursed_sum),
    ).group_by(CommitmentRollup.status)
    rows = (await conn.execute(stmt)).all()
    return [(status, int(n), str(total), str(paid)) for status, n, total, paid in rows]
