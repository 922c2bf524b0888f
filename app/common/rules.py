"""Rules several resources share, each written once: the programme period, partner scoping and
the references a body makes to other resources.

The checks take plain lists of values and a `pointer(n)` naming the body field of the n-th
value: a 10,000-item batch checks its column lists as they are, and formats pointers only for
the values in error."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from app.common.principal import Principal
from app.common.repository import Repository
from app.errors import ErrorItem, Forbidden, ValidationFailed
from app.models import Resource
from app.models.enums import Role

NOT_YOUR_PARTNER = "A partner key may only write its own partner's commitments."

Pointer = Callable[[int], str]


def single(pointer: str) -> Pointer:
    """The pointer of a check over one value: `single("/year")`."""
    return lambda _: pointer


def period_errors(
    periods: Mapping[uuid.UUID, range],
    owners: Sequence[uuid.UUID],
    years: Sequence[int],
    pointer: Pointer,
) -> list[ErrorItem]:
    """An error for each year outside the period of its owner (`periods[owners[n]]`: the
    programme's period, looked up by action or by programme). An owner absent from `periods`
    is reported by its own check ("no such action"). The database refuses those years too;
    checked here to name every bad field at once."""
    errors = []
    for n, (owner, year) in enumerate(zip(owners, years, strict=True)):
        period = periods.get(owner)
        if period is not None and year not in period:
            detail = f"is outside the programme period {period.start}–{period.stop - 1}"
            errors.append(ErrorItem(pointer=pointer(n), detail=detail))
    return errors


def repeated_errors(values: Sequence[object], pointer: Pointer) -> list[ErrorItem]:
    """An error ("appears twice") for each value that an earlier one already holds."""
    seen: set[object] = set()
    errors = []
    for n, value in enumerate(values):
        if value in seen:
            errors.append(ErrorItem(pointer=pointer(n), detail="appears twice"))
        seen.add(value)
    return errors


async def reference_errors(
    repo: Repository[Any],
    model: type[Resource],
    noun: str,
    ids: Sequence[uuid.UUID],
    pointer: Pointer,
    within: Collection[uuid.UUID] | None = None,
) -> list[ErrorItem]:
    """An error ("no such action") for each id that names no `model` row: one statement.
    With `within` (a scoped key's programmes), a row of another programme is no such row."""
    known = await repo.existing(model, set(ids), within=within)
    return [
        ErrorItem(pointer=pointer(n), detail=f"no such {noun}")
        for n, id in enumerate(ids)
        if id not in known
    ]


async def field_reference_errors(
    repo: Repository[Any],
    values: Mapping[str, Any],
    references: Mapping[str, tuple[type[Resource], str]],
    within: Collection[uuid.UUID] | None = None,
) -> list[ErrorItem]:
    """For a body's fields holding one id each (`{"action_id": (Action, "action")}`): an error
    for each field sent whose id names no row (`/action_id`: "no such action"), or, `within`
    a scoped key's programmes, a row of another programme."""
    errors: list[ErrorItem] = []
    for field, (model, noun) in references.items():
        if values.get(field) is not None:
            pointer = single(f"/{field}")
            errors += await reference_errors(repo, model, noun, [values[field]], pointer, within)
    return errors


def own_partner(principal: Principal | None) -> uuid.UUID | None:
    """The partner a partner key is bound to; None for other keys, which reach every partner."""
    if principal is not None and principal.role is Role.partner:
        return principal.partner_id
    return None


def reaches_partner(principal: Principal | None, partner_id: uuid.UUID) -> bool:
    own = own_partner(principal)
    return own is None or own == partner_id


def check_partner(principal: Principal | None, partner_id: uuid.UUID) -> None:
    """403 when a partner key names another partner, whether that partner exists or not."""
    if not reaches_partner(principal, partner_id):
        raise Forbidden(NOT_YOUR_PARTNER)


def pointer_order(error: ErrorItem) -> list[tuple[int, int, str]]:
    """Sort /items/9 before /items/10."""
    parts = (error.pointer or "").split("/")
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def duplicates(
    values: Sequence[object | None], indices: Sequence[int], field: str
) -> list[ErrorItem]:
    """An error for each item of a batch whose `field` holds a value an earlier item already
    holds (None is no value); `indices` are the items' positions in the body."""
    first: dict[object, int] = {}
    errors = []
    for index, value in zip(indices, values, strict=True):
        if value is None:
            continue
        seen = first.setdefault(value, index)
        if seen != index:
            detail = f"appears twice in the batch (also /items/{seen}/{field})"
            errors.append(ErrorItem(pointer=f"/items/{index}/{field}", detail=detail))
    return errors


def refuse_batch(errors: list[ErrorItem], more_errors: int = 0) -> None:
    """A batch with any error is refused whole, its errors in the body's order (one 422)."""
    if errors:
        errors.sort(key=pointer_order)
        raise ValidationFailed(
            "The batch is invalid; nothing was written.", errors=errors, more_errors=more_errors
        )
