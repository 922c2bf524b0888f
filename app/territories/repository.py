"""Territory statements: bulk load of a vintage, lookups and the keyset-paginated list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Integer,
    Text,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import ReturningInsert

from app.common.pagination import (
    ListParams,
    decode_cursor,
    encode_cursor,
    fingerprint,
    keyset_condition,
)
from app.models import Territory, TerritoryKind, TerritorySource

# Any constant works; it only has to be the same for every process loading territories.
LOAD_LOCK_ID = 7_245_014

LOADED_COLUMNS = (
    "kind",
    "code",
    "name",
    "search_name",
    "siren",
    "population",
    "epci_type",
    "commune_code",
    "epci_code",
    "departement_code",
    "region_code",
)

# What an action's communes may name: every kind that is a place inside one commune or one.
COMMUNE_KINDS = (
    TerritoryKind.commune,
    TerritoryKind.arrondissement_municipal,
    TerritoryKind.commune_deleguee,
    TerritoryKind.commune_associee,
)

# When kinds share a code, a bare code names the first of these (schemas.REFERENCE).
BARE_CODE_ORDER = (
    TerritoryKind.commune,
    TerritoryKind.arrondissement_municipal,
    TerritoryKind.epci,
    TerritoryKind.departement,
    TerritoryKind.region,
    TerritoryKind.commune_deleguee,
    TerritoryKind.commune_associee,
)


def _unnest(name: str, values: Sequence[Any]) -> ColumnElement[Any]:
    """unnest() of one typed array parameter: a column of the rows being loaded."""
    array = ARRAY(Integer) if name == "population" else ARRAY(Text)
    return func.unnest(bindparam(name, list(values), type_=array))


def _rank(order: Sequence[TerritoryKind]) -> ColumnElement[int]:
    return case({kind.value: i for i, kind in enumerate(order)}, value=Territory.kind)


class TerritoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- loading -------------------------------------------------------------------------------

    async def lock_for_load(self) -> None:
        """Held until commit: a second loader waits, then finds the file already loaded."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOAD_LOCK_ID})

    async def tables_exist(self) -> bool:
        stmt = select(func.to_regclass(TerritorySource.__tablename__).is_not(None))
        return bool((await self.session.execute(stmt)).scalar_one())

    async def last_source_sha256(self) -> str | None:
        stmt = select(TerritorySource.sha256).order_by(TerritorySource.id.desc()).limit(1)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_source(self, **values: Any) -> None:
        self.session.add(TerritorySource(**values))
        await self.session.flush()

    async def upsert(self, columns: Mapping[str, Sequence[Any]], vintage: str) -> tuple[int, int]:
        """Insert or update every row given, in one statement over one array per column; rows
        already equal are left alone. Returns (inserted, updated)."""
        source = select(
            *(_unnest(name, columns[name]).label(name) for name in LOADED_COLUMNS),
            literal(vintage, Text).label("vintage"),
            literal(True, Boolean).label("current"),
        )
        written = (*LOADED_COLUMNS, "vintage", "current")
        rows = insert(Territory).from_select(written, source)
        kept = [c for c in written if c not in ("kind", "code")]
        stmt: ReturningInsert[Any] = rows.on_conflict_do_update(
            index_elements=["kind", "code"],
            set_={c: rows.excluded[c] for c in kept},
            where=tuple_(*(getattr(Territory, c) for c in kept)).is_distinct_from(
                tuple_(*(rows.excluded[c] for c in kept))
            ),
        ).returning(literal_column("xmax = 0").label("inserted"))
        flags = (await self.session.execute(stmt)).scalars().all()
        inserted = sum(1 for flag in flags if flag)
        return inserted, len(flags) - inserted

    async def retire_missing(self, kinds: Sequence[str], codes: Sequence[str]) -> int:
        """Flag as retired the current territories not in (kinds, codes); nothing is deleted."""
        listed = select(_unnest("kind", kinds), _unnest("code", codes))
        stmt = (
            update(Territory)
            .where(Territory.current, tuple_(Territory.kind, Territory.code).not_in(listed))
            .values(current=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, kind: str, code: str) -> Territory | None:
        return await self.session.get(Territory, (kind, code))

    async def current_communes(self, codes: Sequence[str]) -> set[str]:
        """Those of `codes` that name a current commune (an arrondissement of Paris, Lyon or
        Marseille, a delegated or associated commune included): one statement."""
        stmt = select(Territory.code).where(
            Territory.code.in_(set(codes)),
            Territory.kind.in_([kind.value for kind in COMMUNE_KINDS]),
            Territory.current,
        )
        return set((await self.session.scalars(stmt)).all())

    async def first_with_code(
        self, code: str, order: Sequence[TerritoryKind] = BARE_CODE_ORDER
    ) -> Territory | None:
        """The territory of the first kind in `order` that has this code."""
        kinds = [kind.value for kind in order]
        stmt = (
            select(Territory)
            .where(Territory.code == code, Territory.kind.in_(kinds))
            .order_by(_rank(order))
            .limit(1)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def page(
        self,
        params: ListParams,
        filters: Mapping[str, Any],
        where: Sequence[ColumnElement[bool]],
    ) -> tuple[list[Territory], str | None]:
        """One page in the requested order; the cursor remembers the filters it was made for."""
        columns: list[InstrumentedAttribute[Any]] = [
            getattr(Territory, key.field) for key in params.sort
        ]
        fp = fingerprint(filters, params.sort)
        stmt = select(Territory).where(*where)
        if params.cursor is not None:
            after = decode_cursor(params.cursor, fp, [str] * len(columns))
            stmt = stmt.where(keyset_condition(columns, params.sort, after))
        pairs = zip(columns, params.sort, strict=True)
        order = [c.desc() if k.descending else c.asc() for c, k in pairs]
        stmt = stmt.order_by(*order).limit(params.limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        if len(rows) <= params.limit:
            return rows, None
        rows = rows[: params.limit]
        last = rows[-1]
        return rows, encode_cursor([getattr(last, key.field) for key in params.sort], fp)
