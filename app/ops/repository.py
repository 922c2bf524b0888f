"""What the probes and the metrics ask the database."""

from sqlalchemy import BigInteger, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import CommitmentRollup


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema's Alembic revision; None on a database never migrated."""
    if (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar() is None:
        return None
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()


async def commitment_totals(conn: AsyncConnection) -> list[tuple[str, int, int, int]]:
    """Commitments by status with their sums in integer cents (a float of euros loses cents),
    read from the roll-up: a few thousand rows, not the whole table."""
    stmt = select(
        CommitmentRollup.status,
        func.sum(CommitmentRollup.commitment_count),
        cast(func.sum(CommitmentRollup.amount_sum) * 100, BigInteger),
        cast(func.sum(CommitmentRollup.disbursed_sum) * 100, BigInteger),
    ).group_by(CommitmentRollup.status)
    rows = (await conn.execute(stmt)).all()
    return [(status, int(n), int(total), int(paid)) for status, n, total, paid in rows]
