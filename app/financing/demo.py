"""`relance demo`'s financing plans: one per synthetic action, consistent with its commitments
(BDT, AMP, the State… as lines), a few with a gap left to finance."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.financing.repository import FinancingRepository


async def demo_financing_plans(session: AsyncSession) -> int:
    """The plans of the demo's actions (after their commitments); how many were written."""
    return await FinancingRepository(session).write_demo_plans()
