"""Read models answered straight from their rows: the read path's JSON without building objects.

A GET or a list reads its columns as plain rows (no ORM object, no identity map) and writes
them as the JSON its read model would: `RowJson(CommitmentRead)` knows the model's fields, in
the model's order, and how each is written (money with two decimals, UUIDs and dates as
strings, UTC times with `Z`, `etag` from `id` and `version`), and encodes with orjson. Nothing
is validated twice: the rows come from the database, whose constraints the model's rules
mirror; tests hold the JSON equal to the model's own (tests/commitments/test_row_json.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel

from app.common.fields import format_money
from app.models.base import etag_of

JSON_MEDIA_TYPE = "application/json"
_OPTIONS = orjson.OPT_UTC_Z  # pydantic writes a UTC time with `Z`


def _default(value: object) -> str:
    # asyncpg's UUID is a subclass of uuid.UUID, which orjson writes only when exact.
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return format_money(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_money(field: Any) -> bool:
    return any(getattr(m, "func", None) is format_money for m in field.metadata)


class RowJson:
    """The JSON of `model` (a ResourceRead: id, created_at, updated_at, etag, then its own
    fields) from rows of `columns`: the model's fields in its order, `version` in place of
    `etag`."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        fields = model.model_fields
        money = [name for name, field in fields.items() if _is_money(field)]
        unsupported = [
            name
            for name, field in fields.items()
            if field.annotation is Decimal and name not in money
        ]
        if unsupported:  # a Decimal written some other way: this encoder would not know how
            raise TypeError(f"{model.__name__}: {unsupported} are Decimals but not Money")
        self._keys = tuple(fields)
        self.columns = tuple("version" if name == "etag" else name for name in fields)

    @staticmethod
    def etag(row: Mapping[str, Any]) -> str:
        return etag_of(row["id"], row["version"])

    def item(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One row of `columns` as the model's JSON object (before encoding), in the model's
        order: its values zipped with the model's names, the version made into the ETag."""
        item = dict(zip(self._keys, row.values(), strict=True))
        item["etag"] = etag_of(item["id"], item["etag"])
        return item

    def one(self, row: Mapping[str, Any], headers: dict[str, str] | None = None) -> Response:
        body = orjson.dumps(self.item(row), default=_default, option=_OPTIONS)
        return Response(body, media_type=JSON_MEDIA_TYPE, headers=headers)

    def page(self, rows: Sequence[Mapping[str, Any]], next_cursor: str | None) -> Response:
        """A `Page` of these rows, as `Page[model]` writes it."""
        document = {"items": [self.item(row) for row in rows], "next_cursor": next_cursor}
        body = orjson.dumps(document, default=_default, option=_OPTIONS)
        return Response(body, media_type=JSON_MEDIA_TYPE)
