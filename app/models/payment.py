"""Payments: the dated money that actually moves on a commitment (DESIGN.md, "Money over time")."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKeyConstraint,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import PaymentKind, sql_in


class Payment(Resource):
    __tablename__ = "payments"
    __table_args__ = (
        # A partner's own reference names one of its payments.
        UniqueConstraint("partner_id", "external_ref"),
        CheckConstraint(sql_in("kind", PaymentKind), name="kind_known"),
        # Disbursements and reversals are positive amounts (a reversal counts negatively); an
        # adjustment carries its own sign (a lower cumulative total makes a negative one).
        CheckConstraint(
            "(kind = 'adjustment' AND amount <> 0) OR (kind <> 'adjustment' AND amount > 0)",
            name="amount_signed_by_kind",
        ),
        CheckConstraint("external_ref <> ''", name="external_ref_not_empty"),
        Index("ix_payments_commitment_id_paid_on", "commitment_id", "paid_on", "id"),
        Index("ix_payments_created_at_id", "created_at", "id"),
        # The commitment's partner, filled by a trigger: a partner's references are its own.
        ForeignKeyConstraint(
            ["commitment_id", "partner_id"],
            ["commitments.id", "commitments.partner_id"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
    )

    commitment_id: Mapped[uuid.UUID]
    partner_id: Mapped[uuid.UUID] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    paid_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    kind: Mapped[str] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, server_default="")

    sortable = Resource.sortable | {"paid_on", "amount"}
