"""Payment rows: the list's filters, the commitments a partner names, and the batch upsert."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import all_, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Text, Uuid

from app.common.repository import Condition, Repository, conditions, stored_as_sent, when
from app.errors import transaction_conflict
from app.models import Commitment, Payment
from app.payments.schemas import PaymentFilters
from app.sync.repository import DEADLOCK_ATTEMPTS, PARTNER_LOCK


@dataclass(frozen=True)
class Columns:
    """Payments as the partner sends them, one list per column (the shape unnest() takes);
    amounts as exact decimal strings (see app.sync.repository.Columns)."""

    external_ref: list[str]
    commitment_id: list[uuid.UUID]
    paid_on: list[date]
    amount: list[str]
    kind: list[str]
    label: list[str]

    def __len__(self) -> int:
        return len(self.external_ref)


class Target(NamedTuple):
    """A commitment a partner names by its own reference."""

    id: uuid.UUID
    year: int
    programme_id: uuid.UUID


class OutOfBounds(NamedTuple):
    """A commitment whose total paid a batch would bring outside 0..amount."""

    commitment_id: uuid.UUID
    total: Decimal
    amount: Decimal


_COLUMNS = ("commitment_id", "paid_on", "amount", "kind", "label")

# One statement for the whole batch, as the commitments' upsert (app/sync/repository.py): an
# identical row is a no-op (no version, no change-feed entry); the payments' triggers then move
# every commitment's total with one UPDATE. The rows already stored as sent are left out before
# the INSERT, unlocked (app.common.repository.UpsertShape says why; the partner's batches queue
# on lock_partner). The interpolated names are the constants above.
_SENT = ", ".join(f"s.{c}" for c in _COLUMNS)
_MATCH = "stored.partner_id = CAST(:partner_id AS uuid) AND stored.external_ref = s.external_ref"
UPSERT = text(
    f"""
WITH sent AS (
SELECT * FROM unnest(
    CAST(:external_ref AS text[]), CAST(:commitment_id AS uuid[]), CAST(:paid_on AS date[]),
    CAST(CAST(:amount AS text[]) AS numeric[]), CAST(:kind AS text[]), CAST(:label AS text[])
) AS r(external_ref, {", ".join(_COLUMNS)})
), written AS (
INSERT INTO payments AS p (partner_id, external_ref, {", ".join(_COLUMNS)}, version)
SELECT CAST(:partner_id AS uuid), s.external_ref, {_SENT}, 1
FROM sent s
WHERE NOT {stored_as_sent("payments", _MATCH, _COLUMNS)}
ORDER BY s.external_ref COLLATE "C"  -- one lock order for every batch (bytewise: cheap)
ON CONFLICT (partner_id, external_ref) DO UPDATE
SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)}, version = p.version + 1,
    updated_at = now()
WHERE ({", ".join(f"p.{c}" for c in _COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _COLUMNS)})
RETURNING (p.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated
FROM written
"""  # noqa: S608
)

# The total each commitment would reach: its total now, plus the batch's payments, minus those
# they replace. Only the commitments out of bounds come back.
OUT_OF_BOUNDS = text(
    """
WITH sent AS (
    SELECT * FROM unnest(
        CAST(:external_ref AS text[]), CAST(:commitment_id AS uuid[]),
        CAST(CAST(:amount AS text[]) AS numeric[]), CAST(:kind AS text[])
    ) AS r(external_ref, commitment_id, amount, kind)
), delta AS (
    SELECT commitment_id, sum(signed) AS delta
    FROM (SELECT s.commitment_id,
                 CASE s.kind WHEN 'reversal' THEN -s.amount ELSE s.amount END AS signed
          FROM sent s
          UNION ALL
          SELECT p.commitment_id,
                 CASE p.kind WHEN 'reversal' THEN p.amount ELSE -p.amount END
          FROM payments p
          WHERE p.partner_id = CAST(:partner_id AS uuid)
            AND p.external_ref = ANY(CAST(:external_ref AS text[]))) AS moves
    GROUP BY commitment_id
)
SELECT c.id, c.disbursed_amount + d.delta AS total, c.amount
FROM delta d JOIN commitments c ON c.id = d.commitment_id
WHERE c.disbursed_amount + d.delta < 0 OR c.disbursed_amount + d.delta > c.amount
"""
)


TOTAL_BOUNDS = ("payments_total_above_amount_check", "payments_total_below_zero_check")


def refused_total(exc: DBAPIError) -> bool:
    """Whether the database refused a write for a commitment total out of 0..amount (the
    payments' triggers, app/models/sql/payments.sql)."""
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(cause, "constraint_name", None) in TOTAL_BOUNDS


class PaymentRepository(Repository[Payment]):
    model = Payment

    def where(self, commitment_id: uuid.UUID, filters: PaymentFilters) -> list[Condition]:
        return [
            Payment.commitment_id == commitment_id,
            *conditions(
                when(filters.kind, Payment.kind.in_),
                when(filters.external_ref, Payment.external_ref.in_),
                when(filters.paid_from, lambda day: Payment.paid_on >= day),
                when(filters.paid_to, lambda day: Payment.paid_on <= day),
            ),
        ]

    async def commitment(self, id: uuid.UUID) -> Commitment | None:
        stmt = select(Commitment).where(Commitment.id == id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def by_ref(self, partner_id: uuid.UUID, external_ref: str) -> Payment | None:
        stmt = (
            select(Payment)
            .where(Payment.partner_id == partner_id, Payment.external_ref == external_ref)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def targets(
        self,
        partner_id: uuid.UUID,
        refs: Collection[str],
        within: Collection[uuid.UUID] | None,
    ) -> dict[str, Target]:
        """The partner's commitments named by these references (with `within`, only those of
        these programmes): one statement over the (partner_id, external_ref) index."""
        if not refs:
            return {}
        stmt = select(
            Commitment.external_ref, Commitment.id, Commitment.year, Commitment.programme_id
        ).where(
            Commitment.partner_id == partner_id,
            Commitment.external_ref == any_(bindparam("refs", list(refs), type_=ARRAY(Text()))),
        )
        if within is not None:
            wanted = bindparam("within", list(within), type_=ARRAY(Uuid()))
            stmt = stmt.where(Commitment.programme_id == any_(wanted))
        rows = (await self.session.execute(stmt)).all()
        return {ref: Target(id, year, programme) for ref, id, year, programme in rows if ref}

    async def refs_outside(
        self, partner_id: uuid.UUID, refs: Sequence[str], within: Collection[uuid.UUID]
    ) -> set[str]:
        """Which of these references name a payment of the partner on a commitment of a
        programme outside `within`."""
        if not refs:
            return set()
        stmt = (
            select(Payment.external_ref)
            .join(Commitment, Commitment.id == Payment.commitment_id)
            .where(
                Payment.partner_id == partner_id,
                Payment.external_ref == any_(bindparam("refs", list(refs), type_=ARRAY(Text()))),
                Commitment.programme_id
                != all_(bindparam("within", list(within), type_=ARRAY(Uuid()))),
            )
        )
        return {ref for ref in (await self.session.scalars(stmt)).all() if ref is not None}

    async def out_of_bounds(self, partner_id: uuid.UUID, columns: Columns) -> list[OutOfBounds]:
        params = {
            "partner_id": partner_id,
            "external_ref": columns.external_ref,
            "commitment_id": columns.commitment_id,
            "amount": columns.amount,
            "kind": columns.kind,
        }
        rows = (await self.session.execute(OUT_OF_BOUNDS, params)).all()
        return [OutOfBounds(*row) for row in rows]

    async def lock_partner(self, partner_id: uuid.UUID) -> None:
        """One partner's batches (payments and commitments alike) queue instead of deadlocking
        on the commitments' rows they both move."""
        await self.session.execute(PARTNER_LOCK, {"name": f"relance-sync:{partner_id}"})

    async def upsert(self, partner_id: uuid.UUID, columns: Columns) -> tuple[int, int]:
        """Insert or update the payments; returns how many were created and how many updated."""
        if not len(columns):
            return 0, 0
        params: dict[str, object] = {f.name: getattr(columns, f.name) for f in fields(columns)}
        params["partner_id"] = partner_id
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                async with self.session.begin_nested():
                    created, updated = (await self.session.execute(UPSERT, params)).one()
                return int(created), int(updated)
            except DBAPIError as exc:
                if transaction_conflict(exc) is None or attempt == DEADLOCK_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311
        raise AssertionError("unreachable")
