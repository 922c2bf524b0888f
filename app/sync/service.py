"""Partner sync rules: who may write which partner, every bad item reported, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.common.http import check_if_match
from app.common.principal import Principal
from app.common.rules import Pointer, check_partner, period_errors, reference_errors, single
from app.config import Settings
from app.errors import ErrorItem, NotFound, PreconditionFailed, ValidationFailed
from app.models import Action, Commitment, Partner
from app.sync.repository import Columns, SyncRepository
from app.sync.schemas import BatchResult, CommitmentPut, ReceivedBatch


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


def _pointer_order(error: ErrorItem) -> list[tuple[int, int, str]]:
    """Sort /items/9 before /items/10."""
    parts = (error.pointer or "").split("/")
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def _duplicates(refs: Sequence[str], indices: Sequence[int]) -> list[ErrorItem]:
    """An error for each reference that an earlier item of the batch already holds."""
    first: dict[str, int] = {}
    errors = []
    for index, ref in zip(indices, refs, strict=True):
        seen = first.setdefault(ref, index)
        if seen != index:
            detail = f"appears twice in the batch (also /items/{seen}/external_ref)"
            errors.append(ErrorItem(pointer=f"/items/{index}/external_ref", detail=detail))
    return errors


class SyncService:
    """Every write also moves the roll-up (commitment_rollups) and is captured in the change log
    (changes: /v1/changes and history), all three by database triggers."""

    def __init__(self, session: AsyncSession, settings: Settings, principal: Principal) -> None:
        self.repo = SyncRepository(session)
        self.settings = settings
        self.principal = principal

    async def _authorize(self, partner_id: uuid.UUID) -> None:
        """A partner key gets 403 for any other partner, existing or not; then 404 if the
        partner does not exist."""
        check_partner(self.principal, partner_id)
        if not await self.repo.existing(Partner, [partner_id]):
            raise NotFound(f"No partner has id {partner_id}.")

    async def _check(self, columns: Columns, at: Pointer) -> list[ErrorItem]:
        """Rules pydantic cannot see: the programme period and the actions that exist; `at(n)`
        locates the n-th commitment in the body ("" or "/items/5")."""
        period = self.settings.programme.years
        return period_errors(period, columns.year, lambda n: f"{at(n)}/year") + (
            await reference_errors(
                self.repo, Action, "action", columns.action_id, lambda n: f"{at(n)}/action_id"
            )
        )

    # -- one commitment ------------------------------------------------------------------------

    async def put_one(
        self, partner_id: uuid.UUID, external_ref: str, item: CommitmentPut, if_match: str | None
    ) -> tuple[Commitment, bool]:
        """Create or replace one commitment; returns it and whether it was created."""
        await self._authorize(partner_id)
        columns = _columns([external_ref], [item])
        errors = await self._check(columns, single(""))
        if errors:
            errors.sort(key=_pointer_order)
            raise ValidationFailed("The commitment is invalid.", errors=errors)
        if if_match is not None:
            current = await self.repo.by_ref(partner_id, external_ref, for_update=True)
            if current is None:
                raise PreconditionFailed("If-Match was sent but the commitment does not exist.")
            check_if_match(if_match, current.etag)
        created, _updated = await self.repo.upsert(partner_id, columns)
        stored = await self.repo.by_ref(partner_id, external_ref)
        assert stored is not None  # just written, or unchanged and committed by another writer
        return stored, created == 1

    # -- a batch -------------------------------------------------------------------------------

    async def put_batch(self, partner_id: uuid.UUID, batch: ReceivedBatch) -> BatchResult:
        await self._authorize(partner_id)
        indices = [index for index, _ in batch.items]
        items = [item for _, item in batch.items]
        columns = _columns([item.external_ref for item in items], items)
        errors = batch.errors + _duplicates(columns.external_ref, indices)
        errors += await self._check(columns, lambda n: f"/items/{indices[n]}")
        if errors:
            errors.sort(key=_pointer_order)
            raise ValidationFailed(
                "The batch is invalid; nothing was written.",
                errors=errors,
                more_errors=batch.more_errors,
            )
        created, updated = await self.repo.upsert(partner_id, columns)
        deleted = 0
        if batch.prune is not None:
            deleted = await self.repo.prune(
                partner_id,
                columns.external_ref,
                year=batch.prune.year,
                action_id=batch.prune.action_id,
            )
        return BatchResult(
            created=created,
            updated=updated,
            unchanged=len(items) - created - updated,
            deleted=deleted,
        )
