"""Partner sync rules: who may write which partner, every bad item reported, all or nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.http import check_if_match
from app.common.principal import Principal
from app.config import Settings
from app.errors import (
    ErrorItem,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    error_items,
)
from app.models import Commitment
from app.models.enums import Role
from app.sync.repository import Columns, SyncRepository
from app.sync.schemas import MAX_BATCH, BatchItem, BatchResult, CommitmentPut, PruneScope

_NOT_YOURS = "A partner key may only write its own partner's commitments."
_ITEMS = TypeAdapter(list[BatchItem])
_PRUNE = TypeAdapter(PruneScope)


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
    )


def _pointer_order(error: ErrorItem) -> list[tuple[int, int, str]]:
    """Sort /items/9 before /items/10."""
    parts = (error.pointer or "").split("/")
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


class SyncService:
    def __init__(self, session: AsyncSession, settings: Settings, principal: Principal) -> None:
        self.repo = SyncRepository(session)
        self.settings = settings
        self.principal = principal

    async def _authorize(self, partner_id: uuid.UUID) -> None:
        """A partner key sees 403 for any other partner, existing or not; others may see 404."""
        if self.principal.role is Role.partner:
            if self.principal.partner_id != partner_id:
                raise Forbidden(_NOT_YOURS)
            return
        if not await self.repo.partner_exists(partner_id):
            raise NotFound(f"No partner has id {partner_id}.")

    async def _check(self, items: Sequence[tuple[int | None, CommitmentPut]]) -> list[ErrorItem]:
        """Rules pydantic cannot see: the programme period and the actions that exist."""
        errors: list[ErrorItem] = []
        period = self.settings.programme.years
        known = await self.repo.existing_actions({item.action_id for _, item in items})
        for index, item in items:
            at = "" if index is None else f"/items/{index}"
            if item.year not in period:
                detail = f"is outside the programme period {period.start}–{period.stop - 1}"
                errors.append(ErrorItem(pointer=f"{at}/year", detail=detail))
            if item.action_id not in known:
                errors.append(ErrorItem(pointer=f"{at}/action_id", detail="no such action"))
        return errors

    # -- one commitment ------------------------------------------------------------------------

    async def put_one(
        self, partner_id: uuid.UUID, external_ref: str, item: CommitmentPut, if_match: str | None
    ) -> tuple[Commitment, bool]:
        """Create or replace one commitment; returns it and whether it was created."""
        await self._authorize(partner_id)
        errors = await self._check([(None, item)])
        if errors:
            raise ValidationFailed("The commitment is invalid.", errors=errors)
        if if_match is not None:
            current = await self.repo.by_ref(partner_id, external_ref, for_update=True)
            if current is None:
                raise PreconditionFailed("If-Match was sent but the commitment does not exist.")
            check_if_match(if_match, current.etag)
        created, _updated = await self.repo.upsert(partner_id, _columns([external_ref], [item]))
        stored = await self.repo.by_ref(partner_id, external_ref)
        assert stored is not None  # just written, or unchanged and committed by another writer
        return stored, created == 1

    # -- a batch -------------------------------------------------------------------------------

    def _parse(
        self, body: Any
    ) -> tuple[list[tuple[int, BatchItem]], PruneScope | None, list[ErrorItem]]:
        """Validate the batch's shape and items; the good items go on to the next checks, so
        that one answer lists every bad item, not only those pydantic saw."""
        if not isinstance(body, dict):
            error = ErrorItem(pointer="", detail='must be an object {"items": [...]}')
            raise ValidationFailed("The request body is invalid.", errors=[error])
        errors: list[ErrorItem] = [
            ErrorItem(pointer=f"/{name}", detail="is not a known field (unknown or read-only)")
            for name in body
            if name not in ("items", "prune")
        ]
        raw_items = body.get("items")
        items: list[tuple[int, BatchItem]] = []
        if not isinstance(raw_items, list):
            errors.append(ErrorItem(pointer="/items", detail="must be a list of commitments"))
        elif len(raw_items) > MAX_BATCH:
            errors.append(ErrorItem(pointer="/items", detail=f"at most {MAX_BATCH} items"))
        else:
            try:
                items = list(enumerate(_ITEMS.validate_python(raw_items)))
            except ValidationError as exc:  # the slow path only runs for a bad batch
                found = exc.errors()
                errors.extend(error_items(found, ("items",)))
                bad = {err["loc"][0] for err in found if err.get("loc")}
                items = [
                    (i, BatchItem.model_validate(raw))
                    for i, raw in enumerate(raw_items)
                    if i not in bad
                ]
        prune = None
        if body.get("prune") is not None:
            try:
                prune = _PRUNE.validate_python(body["prune"])
            except ValidationError as exc:
                errors.extend(error_items(exc.errors(), ("prune",)))
        return items, prune, errors

    async def put_batch(self, partner_id: uuid.UUID, raw: bytes) -> BatchResult:
        await self._authorize(partner_id)
        try:
            body: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed(
                "The request body is invalid.",
                errors=[ErrorItem(pointer="", detail="the body is not valid JSON")],
            ) from None
        items, prune, errors = self._parse(body)
        errors += await self._check(items)
        first: dict[str, int] = {}
        raw_items = body.get("items") if isinstance(body.get("items"), list) else []
        for index, raw_item in enumerate(raw_items):
            ref = raw_item.get("external_ref") if isinstance(raw_item, dict) else None
            if not isinstance(ref, str):
                continue
            seen = first.setdefault(ref.strip(), index)
            if seen != index:
                detail = f"appears twice in the batch (also /items/{seen}/external_ref)"
                errors.append(ErrorItem(pointer=f"/items/{index}/external_ref", detail=detail))
        if errors:
            errors.sort(key=_pointer_order)
            raise ValidationFailed("The batch is invalid; nothing was written.", errors=errors)
        good = [item for _, item in items]
        created, updated = await self.repo.upsert(
            partner_id, _columns([item.external_ref for item in good], good)
        )
        deleted = 0
        if prune is not None:
            deleted = await self.repo.prune(
                partner_id, list(first), year=prune.year, action_id=prune.action_id
            )
        return BatchResult(
            created=created,
            updated=updated,
            unchanged=len(items) - created - updated,
            deleted=deleted,
        )
