"""Action rules: its chantier and lead partner exist, its communes are current communes of the
territorial referential; dates ordered and progress in range are
checked by the input models and by the database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from app.actions.repository import ActionRepository, Columns, communes_of
from app.actions.schemas import ActionBatchItem, ActionFilters, ActionKey, ReceivedActionBatch
from app.common.pagination import ListParams
from app.common.rules import (
    Pointer,
    duplicates,
    field_reference_errors,
    reference_errors,
    refuse_batch,
)
from app.common.schemas import UpsertResult
from app.common.service import ResourceService
from app.errors import ErrorItem, ValidationFailed
from app.models import Action, Chantier, Partner
from app.programmes.repository import ProgrammeRepository
from app.territories.repository import TerritoryRepository

Errors = list[ErrorItem]
NO_COMMUNE = "is no current commune's INSEE code"
OUTSIDE_SCOPE = "names an action of a programme this key does not write"
_REFERENCES = {"chantier_id": (Chantier, "chantier"), "lead_partner_id": (Partner, "partner")}


class ActionService(ResourceService[Action, ActionRepository]):
    """Every write is also captured in the change log (changes: /v1/changes and history), and
    moving an action to another chantier moves its roll-up (commitment_rollups): both by
    database triggers."""

    repository = ActionRepository
    noun = "action"

    async def list(
        self, params: ListParams, filters: ActionFilters
    ) -> tuple[list[Action], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    def programme_of(self, obj: Action) -> uuid.UUID:
        return obj.programme_id

    async def validate(self, values: Mapping[str, Any], current: Action | None) -> None:
        # A scoped key moves or creates actions only onto chantiers of its programmes.
        errors: Sequence[ErrorItem] = await field_reference_errors(
            self.repo, values, _REFERENCES, self.within
        )
        moved_to = values.get("chantier_id")
        if not errors and current is not None and moved_to not in (None, current.chantier_id):
            errors = await self._period_errors(current, moved_to)
        errors = [*errors, *await self._commune_errors(values.get("communes") or [])]
        if errors:
            raise ValidationFailed("The action is invalid.", errors=errors)

    async def _period_errors(self, action: Action, chantier_id: Any) -> Sequence[ErrorItem]:
        """Its commitments follow it to the chantier's programme, whose period must hold their
        years (the database refuses them too: commitments' (programme_id, year) foreign key)."""
        programmes = ProgrammeRepository(self.repo.session)
        period = await programmes.chantier_period(chantier_id)
        if period is None:
            return []
        outside = await programmes.count_action_outside(action.id, period)
        if not outside:
            return []
        detail = (
            f"is of a programme whose period {period.start}–{period.stop - 1} leaves out "
            f"{outside} of the action's commitments"
        )
        return [ErrorItem(pointer="/chantier_id", detail=detail)]

    async def _commune_errors(self, communes: Sequence[str]) -> Sequence[ErrorItem]:
        """An error naming each commune the referential does not hold as current: a code that
        never existed (13999) or a commune merged away since (kept for the actions that were
        already there, not for new writes)."""
        if not communes:
            return []
        known = await TerritoryRepository(self.repo.session).current_communes(communes)
        return [
            ErrorItem(pointer=f"/communes/{n}", detail=NO_COMMUNE)
            for n, code in enumerate(communes)
            if code not in known
        ]

    # -- a batch by code or external id ---------------------------------------------------------

    async def put_batch(self, key: ActionKey, batch: ReceivedActionBatch) -> UpsertResult:
        """Create or replace up to 10,000 actions in one statement, all or nothing: every bad
        item is reported by its pointer, in one 422, and nothing is written."""
        indices = [index for index, _ in batch.items]
        items = [item for _, item in batch.items]
        columns = _columns(items)
        other = ActionKey.external_id if key is ActionKey.code else ActionKey.code
        errors = [*batch.errors, *self._keyless(key, items, indices)]
        errors += duplicates(getattr(columns, key.value), indices, key.value)
        errors += duplicates(getattr(columns, other.value), indices, other.value)
        errors += await self._batch_references(columns, indices)
        errors += await self._held_elsewhere(key, other, columns, indices)
        errors += await self._stored_errors(key, columns, indices)
        refuse_batch(errors, batch.more_errors)
        created, updated = await self.repo.upsert(key, columns)
        return UpsertResult(
            created=created, updated=updated, unchanged=len(items) - created - updated
        )

    @staticmethod
    def _keyless(
        key: ActionKey, items: Sequence[ActionBatchItem], indices: Sequence[int]
    ) -> Errors:
        """By external id, every item must carry one."""
        if key is not ActionKey.external_id:
            return []
        return [
            ErrorItem(
                pointer=f"/items/{index}/external_id",
                detail="is required: the batch is matched by external_id",
            )
            for index, item in zip(indices, items, strict=True)
            if item.external_id is None
        ]

    async def _batch_references(self, columns: Columns, indices: Sequence[int]) -> Errors:
        """Chantiers (for a scoped key, of its programmes), lead partners and communes that
        exist: one statement each for the whole batch."""
        at: Pointer = lambda n: f"/items/{indices[n]}"  # noqa: E731
        errors = await reference_errors(
            self.repo,
            Chantier,
            "chantier",
            columns.chantier_id,
            lambda n: f"{at(n)}/chantier_id",
            self.within,
        )
        leads = [(n, id) for n, id in enumerate(columns.lead_partner_id) if id is not None]
        errors += await reference_errors(
            self.repo,
            Partner,
            "partner",
            [id for _, id in leads],
            lambda m: f"{at(leads[m][0])}/lead_partner_id",
        )
        named = communes_of(columns)
        known = (
            await TerritoryRepository(self.repo.session).current_communes(named) if named else set()
        )
        if len(known) == len(named):  # every commune named exists: no item to look through
            return errors
        for n, joined in enumerate(columns.communes):
            for k, code in enumerate(joined.split(",") if joined else []):
                if code not in known:
                    errors.append(ErrorItem(pointer=f"{at(n)}/communes/{k}", detail=NO_COMMUNE))
        return errors

    async def _held_elsewhere(
        self, key: ActionKey, other: ActionKey, columns: Columns, indices: Sequence[int]
    ) -> Errors:
        """The other unique field (the external id when matching by code, and the reverse)
        must not be another stored action's."""
        keys = getattr(columns, key.value)
        values = getattr(columns, other.value)
        holders = await self.repo.holders(key, values, keys)
        return [
            ErrorItem(
                pointer=f"/items/{indices[n]}/{other.value}",
                detail=f"is another action's ({key.value} {holders[value]!r})",
            )
            for n, value in enumerate(values)
            if value is not None and value in holders and holders[value] != keys[n]
        ]

    async def _stored_errors(
        self, key: ActionKey, columns: Columns, indices: Sequence[int]
    ) -> Errors:
        """For the items that replace a stored action: a scoped key replaces only actions of
        its programmes; an action moved to a chantier of another programme must keep its
        commitments inside that programme's period (the database refuses them too)."""
        errors = []
        for stored in await self.repo.stored(key, columns, self.within):
            at = f"/items/{indices[stored.n]}"
            if self.within is not None and stored.programme_id not in self.within:
                errors.append(ErrorItem(pointer=f"{at}/{key.value}", detail=OUTSIDE_SCOPE))
            elif stored.outside:
                detail = (
                    f"is of a programme whose period leaves out {stored.outside} of the "
                    "action's commitments"
                )
                errors.append(ErrorItem(pointer=f"{at}/chantier_id", detail=detail))
        return errors


def _columns(items: Sequence[ActionBatchItem]) -> Columns:
    """One list per column, built in one pass each."""
    return Columns(
        code=[item.code for item in items],
        chantier_id=[item.chantier_id for item in items],
        title=[item.title for item in items],
        description=[item.description for item in items],
        status=[item.status.value for item in items],
        progress=[item.progress for item in items],
        weight=[item.weight for item in items],
        start_date=[item.start_date for item in items],
        end_date=[item.end_date for item in items],
        communes=[",".join(item.communes) for item in items],
        lead_partner_id=[item.lead_partner_id for item in items],
        external_id=[item.external_id for item in items],
    )
