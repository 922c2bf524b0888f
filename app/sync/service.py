"""Partner sync rules: who may write which partner, every bad item reported, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.common.http import check_if_match
from app.common.principal import Principal, programmes_within
from app.common.rules import (
    Pointer,
    check_partner,
    duplicates,
    period_errors,
    pointer_order,
    reference_errors,
    refuse_batch,
    single,
)
from app.config import Settings
from app.errors import ErrorItem, NotFound, PreconditionFailed, ValidationFailed
from app.models import Action, Commitment, Partner
from app.programmes.repository import ProgrammeRepository
from app.schedules.service import ScheduleService
from app.sync.repository import Columns, SyncRepository
from app.sync.schemas import BatchResult, CommitmentPut, ReceivedCommitmentBatch

OUTSIDE_SCOPE = "names a commitment of a programme this key does not write"


def _columns(refs: list[str], items: Sequence[CommitmentPut]) -> Columns:
    """One list per column, built in one pass each: cheaper than an object per commitment."""
    return Columns(
        external_ref=refs,
        action_id=[item.action_id for item in items],
        year=[item.year for item in items],
        amount=[str(item.amount) for item in items],
        disbursed_amount=[str(item.disbursed_amount) for item in items],
        instrument=[item.instrument.value for item in items],
        status=[item.status.value for item in items],
        signed_on=[item.signed_on for item in items],
        label=[item.label for item in items],
        beneficiary_name=[item.beneficiary_name for item in items],
        beneficiary_siret=[item.beneficiary_siret for item in items],
        beneficiary_rna=[item.beneficiary_rna for item in items],
        decision_ref=[item.decision_ref for item in items],
        eu_notified=[item.eu_notified for item in items],
    )


class SyncService:
    """Every write also moves the roll-up (commitment_rollups) and is captured in the change log
    (changes: /v1/changes and history), all three by database triggers."""

    def __init__(self, session: AsyncSession, settings: Settings, principal: Principal) -> None:
        self.repo = SyncRepository(session)
        self.settings = settings
        self.principal = principal
        self.within = programmes_within(principal)
        """A scoped key's programmes: it writes commitments inside them only."""

    async def _authorize(self, partner_id: uuid.UUID) -> None:
        """A partner key gets 403 for any other partner, existing or not; then 404 if the
        partner does not exist."""
        check_partner(self.principal, partner_id)
        if not await self.repo.existing(Partner, [partner_id]):
            raise NotFound(f"No partner has id {partner_id}.")

    async def _check(self, columns: Columns, at: Pointer) -> list[ErrorItem]:
        """Rules pydantic cannot see: the actions that exist (for a scoped key, inside its
        programmes), and each year in the period of its action's programme (one statement for
        the whole batch); `at(n)` locates the n-th commitment in the body ("" or "/items/5")."""
        periods = await ProgrammeRepository(self.repo.session).action_periods(columns.action_id)
        if self.within is None:
            missing = [
                ErrorItem(pointer=f"{at(n)}/action_id", detail="no such action")
                for n, id in enumerate(columns.action_id)
                if id not in periods
            ]
        else:  # another programme's action answers as a missing one, its period unsaid
            missing = await reference_errors(
                self.repo,
                Action,
                "action",
                columns.action_id,
                lambda n: f"{at(n)}/action_id",
                self.within,
            )
        absent: set[uuid.UUID] = set()
        if missing:  # a pointer per item only when some action is missing
            unknown = {error.pointer for error in missing}
            absent = {
                id for n, id in enumerate(columns.action_id) if f"{at(n)}/action_id" in unknown
            }
        known = {id: period for id, period in periods.items() if id not in absent}
        years = period_errors(known, columns.action_id, columns.year, lambda n: f"{at(n)}/year")
        return years + missing

    async def _foreign_refs(
        self, partner_id: uuid.UUID, refs: Sequence[str], indices: Sequence[int]
    ) -> list[ErrorItem]:
        """For a scoped key, an error for each item whose reference names a stored commitment
        of another programme: the upsert would rewrite (and move) it."""
        if self.within is None:
            return []
        outside = await self.repo.refs_outside(partner_id, refs, self.within)
        return [
            ErrorItem(pointer=f"/items/{index}/external_ref", detail=OUTSIDE_SCOPE)
            for index, ref in zip(indices, refs, strict=True)
            if ref in outside
        ]

    async def _schedules_fit(self, partner_id: uuid.UUID, refs: list[str], at: Pointer) -> None:
        """A one-line schedule followed its commitment (app/models/sql/schedules.sql); one of
        several lines cannot: the items that changed such a commitment's amount (or moved its
        year past the first line) are refused, and the upsert with them (nothing written)."""
        errors = await ScheduleService(self.repo.session).batch_errors(partner_id, refs, at)
        if errors:
            errors.sort(key=pointer_order)
            raise ValidationFailed("The schedules do not fit; nothing was written.", errors=errors)

    # -- one commitment ------------------------------------------------------------------------

    async def put_one(
        self, partner_id: uuid.UUID, external_ref: str, item: CommitmentPut, if_match: str | None
    ) -> tuple[Commitment, bool]:
        """Create or replace one commitment; returns it and whether it was created."""
        await self._authorize(partner_id)
        current = None
        if if_match is not None or self.within is not None:
            current = await self.repo.by_ref(partner_id, external_ref, for_update=True)
        # Another programme's commitment answers like a missing one, before If-Match.
        if (
            current is not None
            and self.within is not None
            and current.programme_id not in self.within
        ):
            raise NotFound(f"No commitment of partner {partner_id} has {external_ref!r}.")
        columns = _columns([external_ref], [item])
        errors = await self._check(columns, single(""))
        if errors:
            errors.sort(key=pointer_order)
            raise ValidationFailed("The commitment is invalid.", errors=errors)
        if if_match is not None:
            if current is None:
                raise PreconditionFailed("If-Match was sent but the commitment does not exist.")
            check_if_match(if_match, current.etag)
        created, updated = await self.repo.upsert(partner_id, columns)
        if updated:
            await self._schedules_fit(partner_id, columns.external_ref, single(""))
        stored = await self.repo.by_ref(partner_id, external_ref)
        assert stored is not None  # just written, or unchanged and committed by another writer
        return stored, created == 1

    # -- a batch -------------------------------------------------------------------------------

    async def put_batch(self, partner_id: uuid.UUID, batch: ReceivedCommitmentBatch) -> BatchResult:
        await self._authorize(partner_id)
        indices = [index for index, _ in batch.items]
        items = [item for _, item in batch.items]
        columns = _columns([item.external_ref for item in items], items)
        errors = batch.errors + duplicates(columns.external_ref, indices, "external_ref")
        errors += await self._check(columns, lambda n: f"/items/{indices[n]}")
        errors += await self._foreign_refs(partner_id, columns.external_ref, indices)
        refuse_batch(errors, batch.more_errors)
        created, updated = await self.repo.upsert(partner_id, columns)
        if updated:
            await self._schedules_fit(
                partner_id, columns.external_ref, lambda n: f"/items/{indices[n]}"
            )
        deleted = 0
        if batch.prune is not None:
            deleted = await self.repo.prune(
                partner_id,
                columns.external_ref,
                year=batch.prune.year,
                action_id=batch.prune.action_id,
                within=self.within,
            )
        return BatchResult(
            created=created,
            updated=updated,
            unchanged=len(items) - created - updated,
            deleted=deleted,
        )
