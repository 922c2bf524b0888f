"""Cursor pagination: keyset over the requested sort, with an opaque, self-contained cursor."""

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, literal, or_, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import ErrorItem, InvalidParameter

T = TypeVar("T")

MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; send `next_cursor` back as `cursor` for the next (null at the end)."""

    items: list[T]
    next_cursor: str | None = Field(description="Opaque; null when this is the last page.")

    @classmethod
    def of(
        cls,
        rows: Sequence[object],
        next_cursor: str | None,
        context: dict[str, Any] | None = None,
    ) -> Self:
        """The page of these rows (ORM objects, read through the item model, which `context`
        reaches: a milestone's `today`)."""
        return cls.model_validate(
            {"items": rows, "next_cursor": next_cursor}, from_attributes=True, context=context
        )


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True)
class ListParams:
    limit: int
    cursor: str | None
    sort: tuple[SortKey, ...]


def _bad(parameter: str, detail: str) -> InvalidParameter:
    return InvalidParameter(
        f"{parameter} {detail}.", errors=[ErrorItem(parameter=parameter, detail=detail)]
    )


class Int64(int):
    """The type of a BIGINT cursor key (the change feed's positions and log ids), where a list's
    `int` keys are INTEGER columns and refused beyond 2**31."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def _decode(value: Any, python_type: type[Any]) -> Any:
    if python_type is datetime:
        parsed = datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if python_type is date:
        return date.fromisoformat(str(value))
    if python_type is uuid.UUID:
        return uuid.UUID(str(value))
    if python_type is Decimal:
        return Decimal(str(value))
    if python_type is Int64 and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 2**63:
            raise ValueError("out of range")
        return value
    if python_type is int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 2**31:
            raise ValueError("out of range")
        return value
    if python_type is str and isinstance(value, str):
        return value
    raise ValueError("wrong type")


def fingerprint(filters: Mapping[str, Any], sort: Sequence[SortKey]) -> str:
    canonical = json.dumps(
        {
            "f": {
                k: _encode(v) if not isinstance(v, list) else [_encode(x) for x in v]
                for k, v in sorted(filters.items())
                if v is not None
            },
            "s": [(k.field, k.descending) for k in sort],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once: the feed encodes a cursor per item


def encode_cursor(values: Sequence[Any], fp: str) -> str:
    raw = _COMPACT.encode({"k": [_encode(v) for v in values], "f": fp})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> Any:
    """The JSON value a cursor carries (base64url JSON), or a 400 naming `cursor`: for readers
    that must recognise a cursor of an older shape before `decode_cursor` refuses it."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise _bad("cursor", "is not a cursor this list produced") from None


def decode_cursor(cursor: str, fp: str, types: Sequence[type[Any]]) -> tuple[Any, ...]:
    payload = read_cursor(cursor)
    try:
        keys = payload["k"]
        cursor_fp = payload["f"]
        if not isinstance(keys, list) or len(keys) != len(types):
            raise ValueError("wrong shape")
        values = tuple(_decode(v, t) for v, t in zip(keys, types, strict=True))
    except (ValueError, KeyError, TypeError, binascii.Error, InvalidOperation, UnicodeError):
        raise _bad("cursor", "is not a cursor this list produced") from None
    if cursor_fp != fp:
        raise _bad("cursor", "was issued for other filters or another sort; start again without it")
    return values


def parse_sort(sort: str | None, default: str, sortable: frozenset[str]) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in (sort or default).split(","):
        name = part.strip().removeprefix("-")
        if name not in sortable:
            raise _bad("sort", f"cannot sort by {name!r}; use one of {', '.join(sorted(sortable))}")
        if any(k.field == name for k in keys):
            raise _bad("sort", f"names {name!r} twice")
        keys.append(SortKey(name, part.strip().startswith("-")))
    if not any(k.field == "id" for k in keys):
        # The tie-break follows the last key's direction, so that a one-direction sort stays a
        # row comparison an index (field, id) serves, scanned forwards or backwards.
        keys.append(SortKey("id", keys[-1].descending))
    return tuple(keys)


def page_params(
    default_sort: str, sortable: frozenset[str]
) -> Callable[..., Awaitable[ListParams]]:
    """A dependency reading `limit`, `cursor` and `sort` for a list with these sortable fields."""
    names = "|".join(sorted(sortable))
    pattern = rf"^-?({names})(,-?({names}))*$"

    async def dependency(
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")
        ] = 50,
        cursor: Annotated[
            str | None,
            Query(max_length=2048, description="The `next_cursor` of the previous page."),
        ] = None,
        sort: Annotated[
            str | None,
            Query(
                max_length=256,
                pattern=pattern,
                description=(
                    "Comma-separated fields, `-` for descending, among: "
                    f"{', '.join(sorted(sortable))}. Default `{default_sort}`."
                ),
                examples=[default_sort],
            ),
        ] = None,
    ) -> ListParams:
        return ListParams(limit, cursor, parse_sort(sort, default_sort, sortable | {"id"}))

    return dependency


def keyset_condition(
    columns: Sequence[InstrumentedAttribute[Any]], keys: Sequence[SortKey], after: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after `after` in the order of `keys` (mixed directions allowed)."""
    if len({k.descending for k in keys}) == 1:  # one direction: a row comparison uses the index
        row, values = tuple_(*columns), tuple_(*(literal(v) for v in after))
        return row < values if keys[0].descending else row > values
    clauses = []
    for i, (column, key) in enumerate(zip(columns, keys, strict=True)):
        equal_before = [c == v for c, v in zip(columns[:i], after[:i], strict=True)]
        step = column < after[i] if key.descending else column > after[i]
        clauses.append(and_(*equal_before, step))
    return or_(*clauses)
