"""Payment rules: a payment hangs from a commitment the caller may write, is dated in or after
the commitment's year, is signed by its kind, and keeps the commitment's total paid within
0..amount (the database's triggers hold the last one under concurrent writers, and name the
field when they refuse)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.common.http import check_if_match
from app.common.pagination import ListParams
from app.common.rules import check_partner, duplicates, pointer_order, reaches_partner
from app.common.service import ResourceService
from app.errors import ErrorItem, NotFound, PreconditionFailed, ValidationFailed
from app.models import Commitment, Partner, Payment
from app.models.enums import PaymentKind
from app.payments.repository import Columns, PaymentRepository, Target, refused_total
from app.payments.schemas import (
    PaymentBatchResult,
    PaymentCreate,
    PaymentFilters,
    PaymentPut,
    PaymentUpdate,
    ReceivedPaymentBatch,
    sign_error,
)
from app.sync.service import OUTSIDE_SCOPE

UNKNOWN_COMMITMENT = "names no commitment of this partner"
BEFORE_YEAR = "must not be before the commitment's year"


def _year_error(paid_on_year: int, commitment_year: int) -> str | None:
    return BEFORE_YEAR + f" ({commitment_year})" if paid_on_year < commitment_year else None


class PaymentService(ResourceService[Payment, PaymentRepository]):
    """Every write also moves its commitment's disbursed_amount (and version), and is captured
    in the change log, all by database triggers (app/models/sql/payments.sql)."""

    repository = PaymentRepository
    noun = "payment"

    # -- the commitment a payment hangs from ---------------------------------------------------

    def _reaches(self, commitment: Commitment) -> bool:
        principal = self.principal
        if principal is not None and not principal.reaches(commitment.programme_id):
            return False
        return reaches_partner(principal, commitment.partner_id)

    async def commitment(self, commitment_id: uuid.UUID) -> Commitment:
        """The commitment, for reading its payments: 404 when missing."""
        commitment = await self.repo.commitment(commitment_id)
        if commitment is None:
            raise NotFound(f"No commitment has id {commitment_id}.")
        return commitment

    async def writable_commitment(self, commitment_id: uuid.UUID) -> Commitment:
        """The commitment, for writing a payment on it: another partner's, or another
        programme's for a scoped key, answers like a missing one."""
        commitment = await self.commitment(commitment_id)
        if not self._reaches(commitment):
            raise NotFound(f"No commitment has id {commitment_id}.")
        return commitment

    # -- one payment ---------------------------------------------------------------------------

    async def list_on(
        self, commitment_id: uuid.UUID, params: ListParams, filters: PaymentFilters
    ) -> tuple[list[Payment], str | None]:
        await self.commitment(commitment_id)
        return await self.repo.page(params, filters, self.repo.where(commitment_id, filters))

    async def create_on(self, commitment_id: uuid.UUID, data: PaymentCreate) -> Payment:
        commitment = await self.writable_commitment(commitment_id)
        values = data.model_dump()
        error = _year_error(data.paid_on.year, commitment.year)
        if error is not None:
            raise ValidationFailed(
                "The payment is invalid.", errors=[ErrorItem(pointer="/paid_on", detail=error)]
            )
        return await self.repo.add(Payment(commitment_id=commitment.id, **values))

    async def _for_write(self, id: uuid.UUID, if_match: str | None) -> tuple[Payment, Commitment]:
        payment = await self.repo.get(id, for_update=True)
        if payment is None:
            raise self.missing(id)
        commitment = await self.repo.commitment(payment.commitment_id)
        if commitment is None or not self._reaches(commitment):
            raise self.missing(id)
        check_if_match(if_match, payment.etag)
        return payment, commitment

    async def update_payment(
        self, id: uuid.UUID, data: PaymentUpdate, if_match: str | None
    ) -> Payment:
        payment, commitment = await self._for_write(id, if_match)
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        errors: list[ErrorItem] = []
        kind = PaymentKind(changes.get("kind", payment.kind))
        sign = sign_error(kind, changes.get("amount", payment.amount))
        if sign is not None:
            errors.append(ErrorItem(pointer="/amount", detail=sign))
        year = _year_error(changes.get("paid_on", payment.paid_on).year, commitment.year)
        if year is not None:
            errors.append(ErrorItem(pointer="/paid_on", detail=year))
        if errors:
            raise ValidationFailed("The payment is invalid.", errors=errors)
        await self.apply(payment, changes)
        await self.repo.flush()
        return payment

    async def delete_payment(self, id: uuid.UUID, if_match: str | None) -> None:
        payment, _ = await self._for_write(id, if_match)
        await self.repo.delete(payment)

    # -- partners, by their own references -----------------------------------------------------

    async def _authorize(self, partner_id: uuid.UUID) -> None:
        """A partner key gets 403 for any other partner, existing or not; then 404 if the
        partner does not exist."""
        check_partner(self.principal, partner_id)
        if not await self.repo.existing(Partner, [partner_id]):
            raise NotFound(f"No partner has id {partner_id}.")

    async def _check(
        self,
        partner_id: uuid.UUID,
        refs: list[str],
        items: Sequence[PaymentPut],
        at: Sequence[str],
    ) -> Checked:
        """The batch's columns and the errors found before writing, named by pointer: unknown
        commitments (another programme's, for a scoped key), dates before the commitment's
        year, and for a scoped key references to payments of another programme's commitments.
        `at[n]` locates the n-th payment in the body. Totals out of bounds are `_bound_errors`."""
        targets = await self.repo.targets(
            partner_id, {item.commitment_external_ref for item in items}, self.within
        )
        errors: list[ErrorItem] = []
        kept: list[int] = []
        found: list[Target] = []
        for n, item in enumerate(items):
            target = targets.get(item.commitment_external_ref)
            if target is None:
                errors.append(
                    ErrorItem(pointer=f"{at[n]}/commitment_external_ref", detail=UNKNOWN_COMMITMENT)
                )
                continue
            year = _year_error(item.paid_on.year, target.year)
            if year is not None:
                errors.append(ErrorItem(pointer=f"{at[n]}/paid_on", detail=year))
            kept.append(n)
            found.append(target)
        columns = Columns(
            external_ref=[refs[n] for n in kept],
            commitment_id=[target.id for target in found],
            paid_on=[items[n].paid_on for n in kept],
            amount=[str(items[n].amount) for n in kept],
            kind=[items[n].kind.value for n in kept],
            label=[items[n].label for n in kept],
        )
        if self.within is not None:
            outside = await self.repo.refs_outside(partner_id, columns.external_ref, self.within)
            errors += [
                ErrorItem(pointer=f"{at[n]}/external_ref", detail=OUTSIDE_SCOPE)
                for n in kept
                if refs[n] in outside
            ]
        return Checked(columns, [at[n] for n in kept], errors)

    async def _bound_errors(self, partner_id: uuid.UUID, checked: Checked) -> list[ErrorItem]:
        """An error naming `/amount` for each payment of a commitment whose total the batch
        would bring above its amount or below zero: one statement over the whole batch."""
        if not len(checked.columns):
            return []
        bounds = {
            b.commitment_id: b for b in await self.repo.out_of_bounds(partner_id, checked.columns)
        }
        errors = []
        for at, commitment_id in zip(checked.at, checked.columns.commitment_id, strict=True):
            bound = bounds.get(commitment_id)
            if bound is not None:
                side = (
                    f"above its amount ({bound.amount:.2f})"
                    if bound.total > bound.amount
                    else "below zero"
                )
                detail = f"would bring the commitment's total paid to {bound.total:.2f}, {side}"
                errors.append(ErrorItem(pointer=f"{at}/amount", detail=detail))
        return errors

    async def _refuse(
        self, partner_id: uuid.UUID, checked: Checked, message: str, more_errors: int = 0
    ) -> None:
        """Raise the 422 listing every error, totals out of bounds included, if there is one."""
        if not checked.errors:
            return
        errors = checked.errors + await self._bound_errors(partner_id, checked)
        errors.sort(key=pointer_order)
        raise ValidationFailed(message, errors=errors, more_errors=more_errors)

    async def _upsert(
        self, partner_id: uuid.UUID, checked: Checked, message: str
    ) -> tuple[int, int]:
        """Write the checked batch. The database refuses a total out of bounds (under
        concurrent writers too): only then are the culprits looked for, to name them by
        pointer; a good batch pays no statement for it."""
        try:
            return await self.repo.upsert(partner_id, checked.columns)
        except IntegrityError as exc:
            if not refused_total(exc):
                raise
            errors = await self._bound_errors(partner_id, checked)
            if not errors:  # another writer moved the total meanwhile: the database's answer
                raise
            raise ValidationFailed(message, errors=errors) from None

    async def put_one(
        self, partner_id: uuid.UUID, external_ref: str, item: PaymentPut, if_match: str | None
    ) -> tuple[Payment, bool]:
        """Create or replace one payment by the partner's reference; returns it and whether it
        was created."""
        await self._authorize(partner_id)
        await self.repo.lock_partner(partner_id)
        current = await self.repo.by_ref(partner_id, external_ref)
        if current is not None and self.within is not None:
            commitment = await self.repo.commitment(current.commitment_id)
            if commitment is None or commitment.programme_id not in self.within:
                raise NotFound(f"No payment of partner {partner_id} has {external_ref!r}.")
        checked = await self._check(partner_id, [external_ref], [item], [""])
        await self._refuse(partner_id, checked, "The payment is invalid.")
        if if_match is not None:
            if current is None:
                raise PreconditionFailed("If-Match was sent but the payment does not exist.")
            check_if_match(if_match, current.etag)
        created, _updated = await self._upsert(partner_id, checked, "The payment is invalid.")
        stored = await self.repo.by_ref(partner_id, external_ref)
        assert stored is not None  # just written, or unchanged
        return stored, created == 1

    async def put_batch(
        self, partner_id: uuid.UUID, batch: ReceivedPaymentBatch
    ) -> PaymentBatchResult:
        await self._authorize(partner_id)
        indices = [index for index, _ in batch.items]
        items = [item for _, item in batch.items]
        refs = [item.external_ref for item in items]
        await self.repo.lock_partner(partner_id)
        checked = await self._check(
            partner_id, refs, items, [f"/items/{index}" for index in indices]
        )
        checked.errors[:0] = batch.errors + duplicates(refs, indices, "external_ref")
        message = "The batch is invalid; nothing was written."
        await self._refuse(partner_id, checked, message, batch.more_errors)
        created, updated = await self._upsert(partner_id, checked, message)
        return PaymentBatchResult(
            created=created, updated=updated, unchanged=len(items) - created - updated
        )


@dataclass
class Checked:
    """A batch ready to write: its columns, where each row came from in the body (`/items/5`,
    or "" for a PUT of one), and the errors already found."""

    columns: Columns
    at: list[str]
    errors: list[ErrorItem]
