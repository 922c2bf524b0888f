"""Programme-wide statements: the demo data's bulk writes and clean-up."""

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import case, delete, func, insert, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Action, ActionIndicator, Commitment, Milestone, Payment, ScheduleLine

BATCH = 5_000
# Rows per multi-row INSERT: under PostgreSQL's 32,767 parameters a statement.
VALUES_BATCH = 2_000


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_synthetic_actions(self) -> int:
        stmt = select(func.count()).select_from(Action).where(Action.synthetic.is_(true()))
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete_synthetic(self) -> None:
        await self.session.execute(delete(Commitment).where(Commitment.synthetic.is_(true())))
        synthetic = select(Action.id).where(Action.synthetic.is_(true()))
        await self.session.execute(delete(Milestone).where(Milestone.action_id.in_(synthetic)))
        await self.session.execute(
            delete(ActionIndicator).where(ActionIndicator.action_id.in_(synthetic))
        )
        await self.session.execute(delete(Action).where(Action.synthetic.is_(true())))

    async def write_schedules(self, lines: list[tuple[uuid.UUID, int, Decimal]]) -> None:
        """The demo's schedules (commitment, year, amount): they replace the current lines (a
        new commitment may have got a default one) and are recorded as the commitment's next
        version, `initial` if it is the first."""
        ids = list(dict.fromkeys(c for c, _, _ in lines))
        await self.session.execute(delete(ScheduleLine).where(ScheduleLine.commitment_id.in_(ids)))
        for start in range(0, len(lines), BATCH):
            chunk = lines[start : start + BATCH]
            await self.session.execute(
                insert(ScheduleLine),
                [{"commitment_id": c, "year": y, "amount": a} for c, y, a in chunk],
            )
        await self.session.execute(
            text(
                "INSERT INTO schedule_versions (commitment_id, number, kind, reason, lines,"
                " created_by)"
                " SELECT l.commitment_id, n.number,"
                " CASE WHEN n.number = 1 THEN 'initial' ELSE 'revised' END,"
                " CASE WHEN n.number = 1 THEN NULL ELSE 'demo: the multi-year schedule' END,"
                " jsonb_agg(jsonb_build_object('year', l.year, 'amount', l.amount::text)"
                " ORDER BY l.year), current_setting('relance.actor_name', true)"
                " FROM schedule_lines l"
                " CROSS JOIN LATERAL (SELECT coalesce(max(v.number), 0) + 1 AS number"
                " FROM schedule_versions v WHERE v.commitment_id = l.commitment_id) AS n"
                " WHERE l.commitment_id = ANY(:ids)"
                " GROUP BY l.commitment_id, n.number"
            ),
            {"ids": ids},
        )

    async def write_payments(self, payments: list[dict[str, Any]]) -> None:
        """The demo's payments, then each commitment's disbursed_amount = Σ its payments'
        signed contributions (where the database does not already derive it)."""
        # One multi-row INSERT a chunk: the payments' statement triggers run once a chunk, not
        # once a payment as an executemany would run them (a chunk of 5,000 took more than the
        # serving engine's 5 s command timeout on a busy machine).
        for start in range(0, len(payments), VALUES_BATCH):
            chunk = payments[start : start + VALUES_BATCH]
            await self.session.execute(insert(Payment).values(chunk))
        ids = list(dict.fromkeys(p["commitment_id"] for p in payments))
        signed = case((Payment.kind == "reversal", -Payment.amount), else_=Payment.amount)
        totals = (
            select(Payment.commitment_id, func.sum(signed).label("total"))
            .where(Payment.commitment_id.in_(ids))
            .group_by(Payment.commitment_id)
            .subquery("t")
        )
        await self.session.execute(
            update(Commitment)
            .where(
                Commitment.id == totals.c.commitment_id,
                Commitment.disbursed_amount.is_distinct_from(totals.c.total),
            )
            .values(disbursed_amount=totals.c.total, version=Commitment.version + 1)
            .execution_options(synchronize_session=False)
        )
