"""Financing plans: what an action costs, and who is to pay what share of it (its lines).

One plan per action (its id is the action's). The database refuses lines that sum above the
eligible cost and a lead partner without a line (app/models/sql/financing.sql), and keeps the
plan's version moving whenever its representation does, secured money included."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Numeric, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import Instrument, sql_in


class FinancingPlan(Base):
    __tablename__ = "financing_plans"
    __table_args__ = (
        CheckConstraint("total_cost >= 0", name="total_cost_non_negative"),
        CheckConstraint("eligible_cost >= 0", name="eligible_cost_non_negative"),
        CheckConstraint("eligible_cost <= total_cost", name="eligible_within_total"),
    )

    action_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True
    )
    total_cost: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    eligible_cost: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    # The porteur: one of the plan's lines' partners (checked at commit).
    lead_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Grows with every change of the representation (costs, lines, secured money), by the
    # statements that write the plan and by the triggers of its lines and of commitments.
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class FinancingPlanLine(Base):
    """One partner's planned amount through one instrument."""

    __tablename__ = "financing_plan_lines"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(sql_in("instrument", Instrument), name="instrument_known"),
    )

    action_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("financing_plans.action_id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    instrument: Mapped[str] = mapped_column(Text, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
