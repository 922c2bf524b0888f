"""Open-data statements: the grant commitments of an export, with their attributant, action and
chantier, read through a server-side cursor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.repository import conditions, when
from app.models import Action, Chantier, Commitment, Partner, Payment, Programme, ScheduleLine
from app.models.enums import Instrument, PaymentKind
from app.opendata.schemas import GrantFilters


@dataclass(frozen=True)
class Grant:
    """One grant commitment as an export needs it."""

    id: uuid.UUID
    external_ref: str | None
    year: int
    amount: Decimal
    status: str
    signed_on: date | None
    label: str
    beneficiary_name: str | None
    beneficiary_siret: str | None
    beneficiary_rna: str | None
    decision_ref: str | None
    eu_notified: bool
    partner_code: str
    partner_name: str
    partner_siret: str | None
    action_title: str
    chantier_name: str
    schedule_years: int
    """How many years the current schedule spreads the grant over."""
    last_scheduled_year: int
    disbursements: int
    """Payments of kind disbursement (reversals and adjustments are not instalments)."""
    first_paid_on: date | None
    last_paid_on: date | None
    """Dates of the first and last payment of any kind."""


_lines = ScheduleLine.__table__.alias("sl")
_paid = Payment.__table__.alias("pm")


def _of_commitment(column: Any, table: Any) -> Any:
    return select(column).where(table.c.commitment_id == Commitment.id).scalar_subquery()


_COLUMNS = (
    Commitment.id,
    Commitment.external_ref,
    Commitment.year,
    Commitment.amount,
    Commitment.status,
    Commitment.signed_on,
    Commitment.label,
    Commitment.beneficiary_name,
    Commitment.beneficiary_siret,
    Commitment.beneficiary_rna,
    Commitment.decision_ref,
    Commitment.eu_notified,
    Partner.code.label("partner_code"),
    Partner.name.label("partner_name"),
    Partner.siret.label("partner_siret"),
    Action.title.label("action_title"),
    Chantier.name.label("chantier_name"),
    _of_commitment(func.count(), _lines).label("schedule_years"),
    _of_commitment(func.max(_lines.c.year), _lines).label("last_scheduled_year"),
    _of_commitment(
        func.count().filter(_paid.c.kind == PaymentKind.disbursement.value), _paid
    ).label("disbursements"),
    _of_commitment(func.min(_paid.c.paid_on), _paid).label("first_paid_on"),
    _of_commitment(func.max(_paid.c.paid_on), _paid).label("last_paid_on"),
)


def _grants(filters: GrantFilters) -> Select[Any]:
    where = conditions(
        Commitment.instrument == Instrument.grant.value,
        when(filters.programme_id, Commitment.programme_id.in_),
        when(filters.partner_id, Commitment.partner_id.in_),
        when(filters.year, Commitment.year.in_),
        when(filters.signed_from, Commitment.signed_on.__ge__),
        when(filters.signed_to, Commitment.signed_on.__le__),
    )
    return select(Commitment.id).where(*where)


class OpendataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def partners_by_siret(self, sirets: set[str]) -> dict[str, Partner]:
        """The partners that sign with these SIRETs, by SIRET: one statement."""
        stmt = select(Partner).where(Partner.siret.in_(sirets))
        return {p.siret: p for p in (await self.session.scalars(stmt)).all() if p.siret}

    async def grants(self, filters: GrantFilters) -> AsyncIterator[Grant]:
        """Every grant of the filters, oldest signature first (unsigned last), by id for ties."""
        stmt = (
            select(*_COLUMNS)
            .join(Partner, Partner.id == Commitment.partner_id)
            .join(Action, Action.id == Commitment.action_id)
            .join(Chantier, Chantier.id == Action.chantier_id)
            .where(Commitment.id.in_(_grants(filters)))
            .order_by(Commitment.signed_on.asc().nulls_last(), Commitment.id)
            .execution_options(yield_per=500)
        )
        result = await self.session.stream(stmt)
        async for row in result:
            yield Grant(**row._mapping)


@dataclass(frozen=True)
class CommitmentLine:
    """One commitment with the names of what it hangs from: a line of the Fiscal Data Package."""

    id: uuid.UUID
    year: int
    amount: Decimal
    disbursed_amount: Decimal
    status: str
    instrument: str
    signed_on: date | None
    partner_code: str
    partner_name: str
    programme_code: str
    programme_name: str
    chantier_code: str
    chantier_name: str
    action_code: str
    action_title: str
    payments: list[PaymentLine]


@dataclass(frozen=True)
class PaymentLine:
    """One payment: a line of the Fiscal Data Package's payments."""

    id: uuid.UUID
    commitment_id: uuid.UUID
    paid_on: date
    amount: Decimal
    kind: str
    external_ref: str | None

    @classmethod
    def of(cls, commitment_id: uuid.UUID, item: list[Any]) -> PaymentLine:
        """From `_PAYMENTS`'s JSON array: [id, paid_on, amount as text, kind, external_ref]."""
        id_, paid_on, amount, kind, external_ref = item
        return cls(
            uuid.UUID(id_), commitment_id, date.fromisoformat(paid_on), Decimal(amount), kind,
            external_ref,
        )  # fmt: skip


# A commitment's payments by date, read in the same statement (one snapshot: every payment
# exported refers to a commitment exported); amounts as text, so no cent goes through a float.
_PAYMENTS = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(
                        Payment.id,
                        Payment.paid_on,
                        cast(Payment.amount, Text),
                        Payment.kind,
                        Payment.external_ref,
                    ),
                    Payment.paid_on,
                    Payment.id,
                )
            ),
            literal_column("'[]'::json"),
        )
    )
    .where(Payment.commitment_id == Commitment.id)
    .scalar_subquery()
)


class FiscalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def commitments(
        self, programme_id: list[uuid.UUID] | None, year: list[int] | None
    ) -> AsyncIterator[CommitmentLine]:
        stmt = (
            select(
                Commitment.id,
                Commitment.year,
                Commitment.amount,
                Commitment.disbursed_amount,
                Commitment.status,
                Commitment.instrument,
                Commitment.signed_on,
                Partner.code.label("partner_code"),
                Partner.name.label("partner_name"),
                Programme.code.label("programme_code"),
                Programme.name.label("programme_name"),
                Chantier.code.label("chantier_code"),
                Chantier.name.label("chantier_name"),
                Action.code.label("action_code"),
                Action.title.label("action_title"),
                _PAYMENTS.label("payments"),
            )
            .join(Partner, Partner.id == Commitment.partner_id)
            .join(Action, Action.id == Commitment.action_id)
            .join(Chantier, Chantier.id == Action.chantier_id)
            .join(Programme, Programme.id == Commitment.programme_id)
            .where(
                *conditions(
                    when(programme_id, Commitment.programme_id.in_),
                    when(year, Commitment.year.in_),
                )
            )
            .order_by(Commitment.year, Commitment.id)
        )
        # Streamed by a server-side cursor: the session is in a transaction of its own.
        result = await self.session.stream(stmt.execution_options(yield_per=1000))
        async for row in result:
            values = dict(row._mapping)
            values["payments"] = [PaymentLine.of(row.id, item) for item in row.payments]
            yield CommitmentLine(**values)

    async def period(self, programme_id: list[uuid.UUID] | None) -> tuple[int, int] | None:
        """The first and last year of the programmes exported."""
        stmt = select(func.min(Programme.start_year), func.max(Programme.end_year)).where(
            *conditions(when(programme_id, Programme.id.in_))
        )
        first, last = (await self.session.execute(stmt)).one()
        return None if first is None else (int(first), int(last))
