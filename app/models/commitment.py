"""Commitments: money a financer commits to an action for a budget year."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import CommitmentStatus, Instrument, sql_in


class Commitment(Resource):
    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("partner_id", "external_ref"),
        # The target of payments' (commitment_id, partner_id).
        UniqueConstraint("id", "partner_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "disbursed_amount >= 0 AND disbursed_amount <= amount", name="disbursed_within_amount"
        ),
        CheckConstraint(sql_in("instrument", Instrument), name="instrument_known"),
        CheckConstraint(sql_in("status", CommitmentStatus), name="status_known"),
        # The format only: the SIRET's Luhn key is checked by the input models.
        CheckConstraint("beneficiary_siret ~ '^[0-9]{14}$'", name="beneficiary_siret_format"),
        CheckConstraint("beneficiary_rna ~ '^W[0-9]{9}$'", name="beneficiary_rna_format"),
        CheckConstraint("beneficiary_name <> ''", name="beneficiary_name_not_empty"),
        CheckConstraint("decision_ref <> ''", name="decision_ref_not_empty"),
        # Lists page by (created_at, id), filtered by these keys: each index serves both the
        # filter and the order, and its leading column the foreign key lookups.
        Index("ix_commitments_created_at_id", "created_at", "id"),
        Index("ix_commitments_action_id_created_at", "action_id", "created_at", "id"),
        Index("ix_commitments_partner_id_created_at", "partner_id", "created_at", "id"),
        Index("ix_commitments_year_created_at", "year", "created_at", "id"),
        Index("ix_commitments_programme_id_created_at", "programme_id", "created_at", "id"),
        # The action's programme, filled by a trigger and followed when the action moves.
        ForeignKeyConstraint(
            ["action_id", "programme_id"],
            ["actions.id", "actions.programme_id"],
            onupdate="CASCADE",
        ),
        # The year lies in the period of the commitment's own programme.
        ForeignKeyConstraint(
            ["programme_id", "year"],
            ["programme_years.programme_id", "programme_years.year"],
            ondelete="RESTRICT",
        ),
    )

    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("actions.id", ondelete="RESTRICT"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="RESTRICT"))
    programme_id: Mapped[uuid.UUID] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    external_ref: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    disbursed_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), server_default="0")
    instrument: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=CommitmentStatus.planned.value)
    signed_on: Mapped[date | None]
    label: Mapped[str] = mapped_column(Text, server_default="")
    synthetic: Mapped[bool] = mapped_column(server_default=false())
    # Who receives the money (the SCDL's bénéficiaire) and the decision that grants it.
    beneficiary_name: Mapped[str | None] = mapped_column(Text)
    beneficiary_siret: Mapped[str | None] = mapped_column(String(14))
    beneficiary_rna: Mapped[str | None] = mapped_column(String(10))
    decision_ref: Mapped[str | None] = mapped_column(Text)
    eu_notified: Mapped[bool] = mapped_column(server_default=false())

    sortable = Resource.sortable | {"year", "amount", "disbursed_amount", "status", "instrument"}
