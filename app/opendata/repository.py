"""Open-data statements: the grant commitments of an export, with their attributant, action and
chantier, read through a server-side cursor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.repository import conditions, when
from app.models import Action, Chantier, Commitment, Partner, Programme
from app.models.enums import Instrument
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
    action_end_date: date | None
    chantier_name: str


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
    Action.end_date.label("action_end_date"),
    Chantier.name.label("chantier_name"),
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
        # Fetched, not streamed: a read session is in autocommit, where PostgreSQL opens no
        # cursor ("cursor cannot be created outside of a transaction"); the zip is built in
        # memory anyway.
        for row in (await self.session.execute(stmt)).all():
            yield CommitmentLine(**row._mapping)

    async def period(self, programme_id: list[uuid.UUID] | None) -> tuple[int, int] | None:
        """The first and last year of the programmes exported."""
        stmt = select(func.min(Programme.start_year), func.max(Programme.end_year)).where(
            *conditions(when(programme_id, Programme.id.in_))
        )
        first, last = (await self.session.execute(stmt)).one()
        return None if first is None else (int(first), int(last))
