"""The repository every feature extends: get, page through, add and delete one kind of row."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, TextClause, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Uuid
from sqlalchemy.util import LRUCache

from app.common.driver import driver_engine, driver_fetch
from app.common.pagination import (
    ListParams,
    decode_cursor,
    encode_cursor,
    fingerprint,
    keyset_condition,
)
from app.models import Programme, Resource

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

M = TypeVar("M", bound=Resource)
V = TypeVar("V")

Condition = ColumnElement[bool]


def when(value: V | None, condition: Callable[[V], Condition]) -> Condition | None:
    """The SQL condition of one list filter: nothing when it was not sent (None), otherwise
    `condition(value)`, whatever the value: `?synthetic=false` filters, it is not dropped."""
    return None if value is None else condition(value)


def conditions(*filters: Condition | None) -> list[Condition]:
    """The conditions of the filters that were sent (see `when`)."""
    return [condition for condition in filters if condition is not None]


def programme_column(model: type[Resource]) -> InstrumentedAttribute[uuid.UUID] | None:
    """The column naming the programme a row of `model` belongs to (a programme's own id);
    None for rows all programmes share (partners)."""
    if model is Programme:
        return Programme.id
    column: InstrumentedAttribute[uuid.UUID] | None = getattr(model, "programme_id", None)
    return column


_COMPILED: LRUCache[Any, SQLCompiler | None] = LRUCache(500)
"""Read statements compiled for the driver, by shape (SQLAlchemy's cache key: what the engine's
own statement cache is keyed by): a list's filters and cursor change the values, not the
statement, so each shape compiles once."""


def _driver_statement(
    stmt: Select[Any], params: Mapping[str, Any] | None, dialect: Dialect
) -> tuple[str, list[Any]] | None:
    """`stmt` as the SQL text and positional arguments asyncpg runs (`$1`…), compiled and
    bound as the engine would (an `IN` over a list expanded to one parameter a value), or None
    for what only the engine can run (tuple values)."""
    key = stmt._generate_cache_key()
    if key is None:
        return None
    shape = (dialect, key.key)
    if shape in _COMPILED:
        compiled = _COMPILED[shape]
    else:
        compiled = stmt.compile(dialect=dialect, cache_key=key)
        assert isinstance(compiled, SQLCompiler)
        if not all(map(callable, compiled._bind_processors.values())):
            compiled = None  # a tuple's values are processed one by one: left to the engine
        _COMPILED[shape] = compiled
    if compiled is None:
        return None
    values = compiled.construct_params(
        dict(params) if params else None,
        extracted_parameters=key.bindparams,
        escape_names=False,  # the names positiontup holds, as the engine asks for them
        _collected_params=key.params,
    )
    sql: str = compiled.string
    names: Sequence[str] | None = compiled.positiontup
    bound: Mapping[str, Any] = values
    processors: Mapping[str, Any] = compiled._bind_processors
    if compiled.post_compile_params or compiled.literal_execute_params:
        expanded = compiled._process_parameters_for_postcompile(values)
        sql, names, bound = expanded.statement, expanded.positiontup, expanded.parameters
        processors = {**processors, **expanded.processors}  # those of the expanded values
    if names is None:
        return None
    args = [processors[name](bound[name]) if name in processors else bound[name] for name in names]
    return sql, args


class Repository(Generic[M]):
    """SQL for one model; a feature's repository sets `model` and adds its own statements."""

    model: type[M]
    load_options: ClassVar[Sequence[ORMOption]] = ()
    _row_statements: ClassVar[dict[tuple[str, ...], Select[Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._row_statements = {}  # get_row's statements, per repository (model)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: uuid.UUID, *, for_update: bool = False) -> M | None:
        stmt = select(self.model).where(self.model.id == id).options(*self.load_options)
        if for_update:
            stmt = stmt.with_for_update(of=self.model)
        return (await self.session.scalars(stmt)).one_or_none()

    async def find_by(self, **values: Any) -> M | None:
        stmt = select(self.model).filter_by(**values).options(*self.load_options)
        return (await self.session.scalars(stmt)).one_or_none()

    async def existing(
        self,
        model: type[Resource],
        ids: Collection[uuid.UUID],
        *,
        within: Collection[uuid.UUID] | None = None,
    ) -> set[uuid.UUID]:
        """Which of these ids name a row of `model` (with `within`, a row of one of these
        programmes, or a shared one): one statement, one array parameter, however many ids
        (a 10,000-item batch checks its actions at once)."""
        if not ids:
            return set()
        wanted = bindparam("ids", list(ids), type_=ARRAY(Uuid()))
        stmt = select(model.id).where(model.id == any_(wanted))
        owner = programme_column(model)
        if within is not None and owner is not None:
            stmt = stmt.where(owner == any_(bindparam("within", list(within), type_=ARRAY(Uuid()))))
        rows = await self.session.scalars(stmt)
        return set(rows.all())

    async def page(
        self, params: ListParams, filters: DataclassInstance, where: Sequence[Condition]
    ) -> tuple[list[M], str | None]:
        """One page in the requested order, `where` being the SQL of `filters` (a dataclass);
        the cursor remembers the filters it was made for."""
        selected = select(self.model).where(*where).options(*self.load_options)
        stmt, fp = self._page(selected, params, filters)
        rows = list((await self.session.scalars(stmt)).all())
        return self._cut(rows, params, fp)

    async def page_rows(
        self,
        columns: Sequence[str],
        params: ListParams,
        filters: DataclassInstance,
        where: Sequence[Condition],
    ) -> tuple[list[Mapping[str, Any]], str | None]:
        """The same page as `page`, as plain rows of these columns (a read model's, see
        app.common.rows): no object is built for a page that is only written out."""
        stmt, fp = self._page(self._select_columns(columns).where(*where), params, filters)
        rows = await self._rows(stmt)
        return self._cut(rows, params, fp, operator.getitem)

    async def get_row(self, id: uuid.UUID, columns: Sequence[str]) -> Mapping[str, Any] | None:
        """One row's columns by id (a read model's, see app.common.rows), or None."""
        stmt = self._row_statements.get(tuple(columns))
        if stmt is None:  # built once per model and columns: only the id changes
            stmt = self._select_columns(columns).where(self.model.id == bindparam("row_id"))
            self._row_statements[tuple(columns)] = stmt
        rows = await self._rows(stmt, {"row_id": id})
        return rows[0] if rows else None

    def _select_columns(self, columns: Sequence[str]) -> Select[Any]:
        table = self.model.__table__
        return select(*(table.c[name] for name in columns))

    async def _rows(
        self, stmt: Select[Any], params: dict[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """A read statement's rows, by column name, for the reads that want only rows: on the
        driver when the session allows it (app.db.driver_fetch: a read of its own), otherwise
        on the session's connection (its transaction), without the ORM's execution layer."""
        engine = driver_engine(self.session)
        if engine is not None:
            driver = _driver_statement(stmt, params, engine.sync_engine.dialect)
            if driver is not None:
                return await driver_fetch(engine, *driver)
        connection = await self.session.connection()
        return list((await connection.execute(stmt, params)).mappings().all())

    def _page(
        self, stmt: Select[Any], params: ListParams, filters: DataclassInstance
    ) -> tuple[Select[Any], str]:
        columns: list[InstrumentedAttribute[Any]] = [
            getattr(self.model, key.field) for key in params.sort
        ]
        fp = fingerprint(asdict(filters), params.sort)
        if params.cursor is not None:
            types = [column.type.python_type for column in columns]
            after = decode_cursor(params.cursor, fp, types)
            stmt = stmt.where(keyset_condition(columns, params.sort, after))
        order = [
            c.desc() if k.descending else c.asc()
            for c, k in zip(columns, params.sort, strict=False)
        ]
        return stmt.order_by(*order).limit(params.limit + 1), fp

    @staticmethod
    def _cut(
        rows: list[V], params: ListParams, fp: str, value: Callable[[V, str], Any] = getattr
    ) -> tuple[list[V], str | None]:
        if len(rows) <= params.limit:
            return rows, None
        rows = rows[: params.limit]
        last = rows[-1]
        return rows, encode_cursor([value(last, key.field) for key in params.sort], fp)

    async def add(self, obj: M) -> M:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def flush(self) -> None:
        await self.session.flush()

    async def delete(self, obj: M) -> None:
        await self.session.delete(obj)
        await self.session.flush()


@dataclass(frozen=True)
class UpsertShape:
    """A batch upsert of one table by one unique column: every column one array parameter,
    unnest() turning them into rows, so that 10,000 rows are one statement and one round trip.

    `columns` maps each written column to the SQL type of its parameter array; `values` gives
    the expression that makes the column from its unnested value where it is not the value
    itself (an array column travels as one delimited string per row: unnest() would flatten an
    array of arrays). A row sent identical to the stored one is a no-op (no new version, so no
    change-feed entry): the DO UPDATE's WHERE.

    Such rows are left out before the INSERT (stored_as_sent): ON CONFLICT DO UPDATE locks
    every row it meets (the locker's id in its xmax, a record in the WAL) even when its WHERE
    then leaves the row alone, and a nightly batch is mostly the rows sent the night before. A
    row left out unlocked may change under another writer before the commit: the batch then ran
    first, which READ COMMITTED allows. The commitments' and payments' upserts do the same."""

    table: str
    key: str
    columns: Mapping[str, str]
    values: Mapping[str, str] = field(default_factory=dict)

    def statement(self) -> TextClause:
        names = list(self.columns)
        arrays = ", ".join(f"CAST(:{name} AS {kind})" for name, kind in self.columns.items())
        made = ", ".join(f"{self.values.get(name, f'r.{name}')} AS {name}" for name in names)
        changed = [name for name in names if name != self.key]
        # The interpolated names are the shape's constants, never input.
        return text(
            f"""
WITH sent AS (
SELECT {made}
FROM unnest({arrays}) AS r({", ".join(names)})
), written AS (
INSERT INTO {self.table} AS t ({", ".join(names)}, version)
SELECT s.*, 1
FROM sent s
WHERE NOT {stored_as_sent(self.table, f"stored.{self.key} = s.{self.key}", changed)}
ORDER BY s.{self.key}  -- one lock order for every batch: concurrent batches cannot deadlock
ON CONFLICT ({self.key}) DO UPDATE
SET {", ".join(f"{name} = EXCLUDED.{name}" for name in changed)},
    version = t.version + 1, updated_at = now()
WHERE ({", ".join(f"t.{name}" for name in changed)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{name}" for name in changed)})
RETURNING (t.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated
FROM written
"""  # noqa: S608
        )


def stored_as_sent(table: str, match: str, columns: Sequence[str]) -> str:
    """SQL: whether `table` holds the row `s` of a batch (`match` finds it, as `stored`) with
    these columns as sent. `NOT` it before an upsert leaves such rows out, unlocked (see
    UpsertShape). OFFSET 0 keeps it one probe of the unique index per row: as an anti-join,
    PostgreSQL may hash the whole table (or every row of the partner)."""
    ours = ", ".join(f"stored.{c}" for c in columns)
    sent = ", ".join(f"s.{c}" for c in columns)
    # The interpolated names are the callers' constants, never input.
    return f"""EXISTS (
    SELECT FROM {table} stored
    WHERE {match} AND ({ours}) IS NOT DISTINCT FROM ({sent})
    OFFSET 0)"""  # noqa: S608


def column_arrays(columns: Mapping[str, object]) -> dict[str, object]:
    """A batch's column lists as unnest() parameters: a column no row fills (no commitment has
    a SIRET, say) travels as one NULL, not as 10,000, since unnest() pads a shorter array (a
    NULL one included) with NULLs; encoding such a list cost 1.5 ms a column."""
    return {
        name: None
        if isinstance(values, list) and values and values.count(None) == len(values)
        else values
        for name, values in columns.items()
    }


async def bulk_upsert(
    session: AsyncSession, statement: TextClause, params: Mapping[str, object]
) -> tuple[int, int]:
    """Run an UpsertShape's statement; how many rows were created and how many updated."""
    created, updated = (await session.execute(statement, column_arrays(params))).one()
    return int(created), int(updated)
