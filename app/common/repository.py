"""The repository every feature extends: get, page through, add and delete one kind of row."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.interfaces import ORMOption

from app.common.pagination import (
    ListParams,
    decode_cursor,
    encode_cursor,
    fingerprint,
    keyset_condition,
)
from app.models import Resource

M = TypeVar("M", bound=Resource)


class Repository(Generic[M]):
    model: ClassVar[type[Any]]
    load_options: ClassVar[Sequence[ORMOption]] = ()

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: uuid.UUID, *, for_update: bool = False) -> M | None:
        stmt = select(self.model).where(self.model.id == id).options(*self.load_options)
        if for_update:
            stmt = stmt.with_for_update(of=self.model)
        result: M | None = (await self.session.scalars(stmt)).one_or_none()
        return result

    async def find_by(self, **values: Any) -> M | None:
        stmt = select(self.model).filter_by(**values).options(*self.load_options)
        result: M | None = (await self.session.scalars(stmt)).one_or_none()
        return result

    async def page(
        self,
        params: ListParams,
        filters: Mapping[str, Any],
        where: Sequence[ColumnElement[bool]] = (),
    ) -> tuple[list[M], str | None]:
        """One page in the requested order; the cursor remembers the filters it was made for."""
        columns: list[InstrumentedAttribute[Any]] = [
            getattr(self.model, key.field) for key in params.sort
        ]
        fp = fingerprint(filters, params.sort)
        stmt = select(self.model).where(*where).options(*self.load_options)
        if params.cursor is not None:
            types = [column.type.python_type for column in columns]
            after = decode_cursor(params.cursor, fp, types)
            stmt = stmt.where(keyset_condition(columns, params.sort, after))
        order = [
            c.desc() if k.descending else c.asc()
            for c, k in zip(columns, params.sort, strict=False)
        ]
        stmt = stmt.order_by(*order).limit(params.limit + 1)
        rows: list[M] = list((await self.session.scalars(stmt)).all())
        if len(rows) <= params.limit:
            return rows, None
        rows = rows[: params.limit]
        last = rows[-1]
        return rows, encode_cursor([getattr(last, key.field) for key in params.sort], fp)

    async def add(self, obj: M) -> M:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def flush(self) -> None:
        await self.session.flush()

    async def delete(self, obj: M) -> None:
        await self.session.delete(obj)
        await self.session.flush()
