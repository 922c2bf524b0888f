"""Partner rules: reference data, guarded by the database's constraints."""

from __future__ import annotations

from collections.abc import Sequence

from app.common.pagination import ListParams
from app.common.rules import duplicates, refuse_batch
from app.common.schemas import UpsertResult
from app.common.service import ResourceService
from app.errors import ErrorItem
from app.models import Partner
from app.partners.repository import Columns, PartnerRepository
from app.partners.schemas import PartnerBatchItem, PartnerFilters, ReceivedPartnerBatch

Errors = list[ErrorItem]


class PartnerService(ResourceService[Partner, PartnerRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), by
    database triggers; the roll-up follows partners by id, so no write of theirs moves it."""

    repository = PartnerRepository
    noun = "partner"

    async def list(
        self, params: ListParams, filters: PartnerFilters
    ) -> tuple[list[Partner], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    async def put_batch(self, batch: ReceivedPartnerBatch) -> UpsertResult:
        """Create or replace up to 10,000 partners by code in one statement, all or nothing:
        every bad item is reported by its pointer, in one 422, and nothing is written."""
        indices = [index for index, _ in batch.items]
        items = [item for _, item in batch.items]
        columns = _columns(items)
        errors = [*batch.errors, *duplicates(columns.code, indices, "code")]
        errors += duplicates(columns.siren, indices, "siren")
        errors += duplicates(columns.siret, indices, "siret")
        errors += _siret_errors(columns, indices)
        errors += await self._held_elsewhere(columns, indices)
        refuse_batch(errors, batch.more_errors)
        created, updated = await self.repo.upsert(columns)
        return UpsertResult(
            created=created, updated=updated, unchanged=len(items) - created - updated
        )

    async def _held_elsewhere(self, columns: Columns, indices: Sequence[int]) -> Errors:
        """A SIREN or SIRET must not be another stored partner's (both are unique)."""
        values = {v for v in (*columns.siren, *columns.siret) if v is not None}
        holders = await self.repo.holders(values)
        errors = []
        for field in ("siren", "siret"):
            for n, value in enumerate(getattr(columns, field)):
                holder = holders.get(value) if value is not None else None
                if holder is not None and holder != columns.code[n]:
                    detail = f"is another partner's (code {holder!r})"
                    errors.append(ErrorItem(pointer=f"/items/{indices[n]}/{field}", detail=detail))
        return errors


def _siret_errors(columns: Columns, indices: Sequence[int]) -> Errors:
    """A SIRET is an establishment of its SIREN's organisation (the database checks it too)."""
    return [
        ErrorItem(pointer=f"/items/{indices[n]}/siret", detail="must begin with the siren")
        for n, (siren, siret) in enumerate(zip(columns.siren, columns.siret, strict=True))
        if siren is not None and siret is not None and not siret.startswith(siren)
    ]


def _columns(items: Sequence[PartnerBatchItem]) -> Columns:
    return Columns(
        code=[item.code for item in items],
        name=[item.name for item in items],
        kind=[item.kind.value for item in items],
        siren=[item.siren for item in items],
        siret=[item.siret for item in items],
    )
