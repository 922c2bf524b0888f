"""Upserts of commitments by (partner_id, external_ref): one statement for a whole batch."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import all_, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Text, Uuid

from app.common.repository import Repository, column_arrays, stored_as_sent
from app.errors import transaction_conflict
from app.models import Commitment


@dataclass(frozen=True)
class Columns:
    """Commitments as the partner sends them, one list per column: the shape unnest() takes,
    so a batch goes to the database without a Python object per commitment.

    Amounts are exact decimal strings: asyncpg encodes a text array about three times faster
    than a Decimal array, and the text-to-numeric cast in the statement loses nothing."""

    external_ref: list[str]
    action_id: list[uuid.UUID]
    year: list[int]
    amount: list[str]
    disbursed_amount: list[str]
    instrument: list[str]
    status: list[str]
    signed_on: list[date | None]
    label: list[str]
    beneficiary_name: list[str | None]
    beneficiary_siret: list[str | None]
    beneficiary_rna: list[str | None]
    decision_ref: list[str | None]
    eu_notified: list[bool]

    def __len__(self) -> int:
        return len(self.external_ref)


_COLUMNS = (
    "action_id",
    "year",
    "amount",
    "disbursed_amount",
    "instrument",
    "status",
    "signed_on",
    "label",
    "beneficiary_name",
    "beneficiary_siret",
    "beneficiary_rna",
    "decision_ref",
    "eu_notified",
)
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
_OURS = ", ".join(f"c.{c}" for c in _COLUMNS)
_THEIRS = ", ".join(f"EXCLUDED.{c}" for c in _COLUMNS)
_MATCH = "stored.partner_id = CAST(:partner_id AS uuid) AND stored.external_ref = s.external_ref"

# unnest() turns the column arrays into rows, so 10,000 commitments are one statement and one round
# trip. The WHERE makes an identical row a no-op: no new version, no change-feed entry; and the
# rows already stored as sent are left out before the INSERT, unlocked (app.common.repository.
# UpsertShape says why; the partner's batches queue on PARTNER_LOCK).
# `xmax = 0` holds for a freshly inserted row, not for one updated by DO UPDATE; counting in
# SQL spares sending back and decoding one row per commitment.
# The interpolated names are the constants above, never input.
UPSERT = text(
    f"""
WITH sent AS (
SELECT * FROM unnest(
    CAST(:external_ref AS text[]), CAST(:action_id AS uuid[]), CAST(:year AS int[]),
    CAST(CAST(:amount AS text[]) AS numeric[]),
    CAST(CAST(:disbursed_amount AS text[]) AS numeric[]),
    CAST(:instrument AS text[]), CAST(:status AS text[]), CAST(:signed_on AS date[]),
    CAST(:label AS text[]), CAST(:beneficiary_name AS text[]),
    CAST(:beneficiary_siret AS text[]), CAST(:beneficiary_rna AS text[]),
    CAST(:decision_ref AS text[]), CAST(:eu_notified AS boolean[])
) AS r(external_ref, {", ".join(_COLUMNS)})
), written AS (
INSERT INTO commitments AS c
    (partner_id, external_ref, {", ".join(_COLUMNS)}, version)
SELECT CAST(:partner_id AS uuid), s.*, 1
FROM sent s
WHERE NOT {stored_as_sent("commitments", _MATCH, _COLUMNS)}
ORDER BY s.external_ref COLLATE "C"  -- one lock order for every batch (bytewise): no deadlock
ON CONFLICT (partner_id, external_ref) DO UPDATE
SET {_SET}, version = c.version + 1, updated_at = now()
WHERE ({_OURS}) IS DISTINCT FROM ({_THEIRS})
RETURNING (c.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated
FROM written
"""  # noqa: S608
)

PRUNE = text(
    """
DELETE FROM commitments c
WHERE c.partner_id = CAST(:partner_id AS uuid)
  AND (CAST(:year AS int) IS NULL OR c.year = CAST(:year AS int))
  AND (CAST(:action_id AS uuid) IS NULL OR c.action_id = CAST(:action_id AS uuid))
  AND (CAST(:within AS uuid[]) IS NULL OR c.programme_id = ANY(CAST(:within AS uuid[])))
  AND NOT EXISTS (
      SELECT 1 FROM unnest(CAST(:refs AS text[])) AS kept(ref) WHERE kept.ref = c.external_ref
  )
"""
)


# An upsert fires the roll-up's INSERT and UPDATE statement triggers one after the other; each
# locks its roll-up rows in order, but two concurrent upserts can still meet in opposite order
# across the two (seen under load: 14 deadlocks in 60 s at 50 clients). Upserts of one partner
# are therefore serialised; against other writers (a PATCH moving a commitment between cells)
# a deadlock stays possible, and the statement reruns from a savepoint when PostgreSQL makes it
# the victim (a rerun of the statement alone, cheaper than app.ops.retry's of the request).
PARTNER_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
DEADLOCK_ATTEMPTS = 5


class SyncRepository(Repository[Commitment]):
    model = Commitment

    async def by_ref(
        self, partner_id: uuid.UUID, external_ref: str, *, for_update: bool = False
    ) -> Commitment | None:
        stmt = (
            select(Commitment)
            .where(Commitment.partner_id == partner_id, Commitment.external_ref == external_ref)
            .execution_options(populate_existing=True)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def refs_outside(
        self, partner_id: uuid.UUID, refs: Sequence[str], within: Collection[uuid.UUID]
    ) -> set[str]:
        """Which of these references name a commitment of the partner in a programme outside
        `within`: one statement over the (partner_id, external_ref) index."""
        if not refs:
            return set()
        stmt = select(Commitment.external_ref).where(
            Commitment.partner_id == partner_id,
            Commitment.external_ref == any_(bindparam("refs", list(refs), type_=ARRAY(Text()))),
            Commitment.programme_id != all_(bindparam("within", list(within), type_=ARRAY(Uuid()))),
        )
        return {ref for ref in (await self.session.scalars(stmt)).all() if ref is not None}

    async def upsert(self, partner_id: uuid.UUID, columns: Columns) -> tuple[int, int]:
        """Insert or update the commitments; returns how many were created and how many updated."""
        if not len(columns):
            return 0, 0
        # Not dataclasses.asdict(): it would copy every element of every list.
        params = column_arrays({f.name: getattr(columns, f.name) for f in fields(columns)})
        params["partner_id"] = partner_id
        # One writer per partner at a time, until commit: a partner's upserts queue instead of
        # deadlocking on its roll-up rows (partners never share roll-up rows).
        await self.session.execute(PARTNER_LOCK, {"name": f"relance-sync:{partner_id}"})
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                # A savepoint, so that a deadlock undoes only this statement and it can rerun.
                async with self.session.begin_nested():
                    created, updated = (await self.session.execute(UPSERT, params)).one()
                return int(created), int(updated)
            except DBAPIError as exc:
                if transaction_conflict(exc) is None or attempt == DEADLOCK_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311
        raise AssertionError("unreachable")

    async def prune(
        self,
        partner_id: uuid.UUID,
        keep: Sequence[str],
        *,
        year: int | None,
        action_id: uuid.UUID | None,
        within: Collection[uuid.UUID] | None,
    ) -> int:
        """Delete the partner's commitments inside the scope (year, action, and for a scoped
        key its programmes) whose reference is not in `keep`."""
        scope = None if within is None else list(within)
        result = await self.session.execute(
            PRUNE,
            {
                "partner_id": partner_id,
                "refs": list(keep),
                "year": year,
                "action_id": action_id,
                "within": scope,
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
