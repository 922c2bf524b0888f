"""The aggregate statements the reporting repository runs: sums over the commitment roll-up,
the territorial roll-up for one territorial level (or, for actions and several territories, over
commitments themselves), grouped by the requested dimensions.
Built here, once per shape, executed only by `app.reporting.repository` (the fixed ones of the
summaries and progress: `app.reporting.summaries`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    nulls_last,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.models import (
    Action,
    Chantier,
    ChantierPriority,
    Commitment,
    CommitmentRollup,
    Partner,
    Priority,
    Programme,
    TerritorialRollup,
    Territory,
)
from app.models.enums import CommitmentStatus
from app.models.territory import COMMUNE_LIKE, TerritoryKind

ENTITIES = ("programme", "priority", "chantier", "action", "partner")
TERRITORIAL = ("commune", "epci", "departement")
DIMENSIONS = (*ENTITIES, "partner_kind", "year", "status", "instrument", *TERRITORIAL)
MEASURES = ("planned", "committed", "disbursed", "count", "execution_rate")
# Dimensions that only the commitments themselves know (the roll-up stops at the chantier).
FINE = frozenset({"action", *TERRITORIAL})
CENTS = Decimal(100)


@dataclass(frozen=True)
class Cut:
    """Resolved filters: ids for entities, plain values for the rest; a list means OR."""

    year: tuple[int, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    programme: tuple[uuid.UUID, ...] = ()
    priority: tuple[uuid.UUID, ...] = ()
    chantier: tuple[uuid.UUID, ...] = ()
    action: tuple[uuid.UUID, ...] = ()
    partner: tuple[uuid.UUID, ...] = ()
    partner_kind: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    instrument: tuple[str, ...] = ()
    commune: tuple[str, ...] = ()
    epci: tuple[str, ...] = ()
    departement: tuple[str, ...] = ()

    @property
    def territorial(self) -> bool:
        return bool(self.commune or self.epci or self.departement)


@dataclass(frozen=True)
class OrderKey:
    name: str  # a measure or a drilldown dimension
    descending: bool


@dataclass(frozen=True)
class SortKey:
    """One key of a statement's order: an expression, ascending or descending, nulls last."""

    expr: ColumnElement[Any]
    descending: bool = False

    def clause(self, expr: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
        on = self.expr if expr is None else expr
        clause: ColumnElement[Any] = nulls_last(on.desc() if self.descending else on.asc())
        return clause


def sorted_page(stmt: Select[Any], keys: Collection[SortKey]) -> Select[Any]:
    """`stmt` ordered by `keys`, each key also one of its columns (`order_key_<i>`), so that a
    statement over its page restores the order after the LIMIT (`page_order`). Numbering the
    rows instead (a row_number() over the order) makes PostgreSQL sort every cell before the
    LIMIT, where an ORDER BY right under it keeps only the page's rows (a top-N heapsort): at
    39,000 cells a full sort spilled to disk."""
    labelled = [k.expr.label(f"order_key_{i}") for i, k in enumerate(keys)]
    return stmt.add_columns(*labelled).order_by(*(k.clause() for k in keys))


def page_order(page: FromClause, keys: Collection[SortKey]) -> list[ColumnElement[Any]]:
    """The order of `sorted_page`'s keys over its page's rows."""
    return [k.clause(page.c[f"order_key_{i}"]) for i, k in enumerate(keys)]


def page_columns(page: FromClause) -> list[ColumnElement[Any]]:
    """The page's columns that the answer shows: all but `sorted_page`'s keys."""
    return [c for c in page.c if not c.key.startswith("order_key_")]


@dataclass(frozen=True)
class CellQuery:
    drilldown: tuple[str, ...]
    cut: Cut = field(default_factory=Cut)
    order: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    max_cells: int | None = None
    """Group at most max_cells + 1 cells: one more than allowed tells the service to refuse."""

    @property
    def fine(self) -> bool:
        return bool(FINE & set(self.drilldown)) or bool(self.cut.action or self.cut.territorial)

    @property
    def territorial(self) -> bool:
        return bool(set(TERRITORIAL) & set(self.drilldown)) or self.cut.territorial

    @property
    def level(self) -> str | None:
        return territorial_level(self.drilldown, self.cut)


def territorial_level(drilldown: Collection[str], cut: Cut) -> str | None:
    """The territorial level that the territorial roll-up answers a query at, if it can: the
    query names one level only (commune, EPCI or département: drilldown and filters together),
    at most one territory of it in its filter (the totals of several would count a commitment
    placed in two of them once: only the commitments know), and no action."""
    if "action" in drilldown or cut.action:
        return None
    levels = {d for d in TERRITORIAL if d in drilldown or getattr(cut, d)}
    if len(levels) != 1:
        return None
    (level,) = levels
    return level if len(getattr(cut, level)) <= 1 else None


def source(fine: bool, territorial: bool = False, level: str | None = None) -> FromClause:
    if level is not None:
        return territorial_rollup_source(level)
    if territorial:
        return territorial_source()
    if not fine:
        return CommitmentRollup.__table__.alias("s")
    c, a = Commitment.__table__.c, Action.__table__.c
    return (
        select(
            c.action_id,
            a.code.label("action_code"),
            a.title.label("action_name"),
            a.communes,
            a.chantier_id,
            c.programme_id,
            c.partner_id,
            c.year,
            c.status,
            c.instrument,
            c.amount.label("amount_sum"),
            c.disbursed_amount.label("disbursed_sum"),
            literal(1).label("commitment_count"),
        )
        # An outer join finds the same action (every commitment has one, by foreign key), and
        # PostgreSQL leaves it out of a statement that reads none of the action's columns
        # (a drilldown by action, a filter by year): an inner join it would probe per row.
        .select_from(Commitment.__table__.outerjoin(Action.__table__, a.id == c.action_id))
        .subquery("s")
    )


def _share(money: ColumnElement[Any], n: ColumnElement[Any], rank: ColumnElement[Any]) -> Any:
    """The `rank`-th of `n` equal shares of `money`, to the cent: every share gets the same whole
    number of cents and the first (money in cents mod n) shares one cent more, so the shares add
    up exactly to `money`."""
    cents = money * CENTS
    base = func.div(cents, n)
    extra = case((rank <= cents - base * n, 1), else_=0)
    return (base + extra) / CENTS


def totals_source(cut: Cut) -> FromClause:
    """The rows that hold each commitment once under `cut`: the true totals are their sums."""
    return source(bool(cut.action or cut.territorial), cut.territorial, territorial_level((), cut))


def territorial_rollup_source(level: str) -> FromClause:
    """The territorial roll-up's rows of one level, the territory under the level's name (null
    for money placed in no territory), with the commitment roll-up's columns."""
    r = TerritorialRollup.__table__.c
    return (
        select(
            r.programme_id,
            r.chantier_id,
            r.partner_id,
            r.year,
            r.status,
            r.instrument,
            func.nullif(r.territory, "").label(level),
            r.territory,  # what a filter compares (indexed; a filter's codes are never '')
            r.amount_sum,
            r.disbursed_sum,
            r.commitment_count,
        )
        .where(r.level == literal(level, Text))
        .subquery("s")
    )


def _commune_place(t: FromClause, code: ColumnElement[Any], *columns: Any) -> Select[Any]:
    """`columns` of the territory of `t` a commune code names: the commune first, then the
    other commune-like kinds (the kinds a constant of the statement's text: an expanding IN
    would be a list bound at each execution)."""
    return (
        select(*columns)
        .where(t.c.code == code, t.c.kind.op("IN")(literal_column(COMMUNE_LIKE)))
        .order_by(t.c.kind != TerritoryKind.commune.value, t.c.kind)
        .limit(1)
    )


def _population(level: str, code: ColumnElement[Any]) -> ColumnElement[Any]:
    """The population of the territory `code` of `level`, as `territorial_source` reads it."""
    t = Territory.__table__.alias(f"pop_{level}")
    if level == "commune":
        return _commune_place(t, code, t.c.population).scalar_subquery()
    stmt = select(t.c.population).where(t.c.code == code, t.c.kind == level)
    return stmt.limit(1).scalar_subquery()


def territorial_source() -> FromClause:
    """One row per commitment and commune of its action, its money split in equal shares
    (exact to the cent, remainders to the first communes in the action's own order); an action
    without communes gives one row with its whole money and no commune. Each row carries the
    commune's EPCI, département and the three populations, from the territorial referential
    (a delegated or associated commune has no population of its own)."""
    c, a = Commitment.__table__.c, Action.__table__.c
    unnested = (
        func.unnest(a.communes)
        .table_valued("commune", with_ordinality="rank")
        .render_derived(name="cm")
        .lateral("cm")
    )
    t = Territory.__table__.alias("t")
    place = _commune_place(
        t, unnested.c.commune, t.c.epci_code, t.c.departement_code, t.c.population
    ).lateral("place")
    epci = Territory.__table__.alias("te")
    departement = Territory.__table__.alias("td")
    n = func.greatest(func.cardinality(a.communes), 1)
    rank = func.coalesce(unnested.c.rank, 1)
    return (
        select(
            c.id.label("commitment_id"),
            c.action_id,
            a.code.label("action_code"),
            a.title.label("action_name"),
            a.communes,
            a.chantier_id,
            c.programme_id,
            c.partner_id,
            c.year,
            c.status,
            c.instrument,
            unnested.c.commune,
            place.c.epci_code.label("epci"),
            place.c.departement_code.label("departement"),
            place.c.population.label("commune_population"),
            epci.c.population.label("epci_population"),
            departement.c.population.label("departement_population"),
            _share(c.amount, n, rank).label("amount_sum"),
            _share(c.disbursed_amount, n, rank).label("disbursed_sum"),
            literal(1).label("commitment_count"),
        )
        .select_from(
            Commitment.__table__.join(Action.__table__, a.id == c.action_id)
            .outerjoin(unnested, true())
            .outerjoin(place, true())
            .outerjoin(
                epci,
                and_(epci.c.kind == TerritoryKind.epci.value, epci.c.code == place.c.epci_code),
            )
            .outerjoin(
                departement,
                and_(
                    departement.c.kind == TerritoryKind.departement.value,
                    departement.c.code == place.c.departement_code,
                ),
            )
        )
        .subquery("s")
    )


def measures_of(s: FromClause) -> dict[str, ColumnElement[Any]]:
    committed_rows = s.c.status == CommitmentStatus.committed.value
    zero = literal(Decimal(0))
    return {
        "planned": func.coalesce(
            func.sum(s.c.amount_sum).filter(s.c.status == CommitmentStatus.planned.value), zero
        ),
        "committed": func.coalesce(func.sum(s.c.amount_sum).filter(committed_rows), zero),
        "disbursed": func.coalesce(func.sum(s.c.disbursed_sum).filter(committed_rows), zero),
        # The territorial source has a row per share: count each commitment once a cell.
        "count": func.count(s.c.commitment_id.distinct())
        if "commitment_id" in s.c
        else func.coalesce(func.sum(s.c.commitment_count), 0),
    }


# Every filter value travels as one array parameter (`= ANY(:cut_year)`), never as a list
# rendered into the SQL: the text of a statement depends only on which filters are set, so it
# is built once (below) and asyncpg's prepared statements are reused from request to request.
_CUT_ITEM_TYPES: dict[str, Any] = {
    "year": Integer,
    "programme": Uuid,
    "priority": Uuid,
    "chantier": Uuid,
    "action": Uuid,
    "partner": Uuid,
    "partner_kind": Text,
    "status": Text,
    "instrument": Text,
    "commune": String(5),
    "epci": Text,
    "departement": Text,
}
_CUT_BOUNDS = ("year_from", "year_to")


def _cut_values(name: str, values: Collection[Any]) -> BindParameter[Any]:
    return bindparam(f"cut_{name}", list(values), type_=ARRAY(_CUT_ITEM_TYPES[name]))


def cut_params(cut: Cut) -> dict[str, Any]:
    """The values of `where_cut`'s parameters: a statement built for another cut with the same
    filters set runs with these (`session.execute(statement, cut_params(cut))`)."""
    params: dict[str, Any] = {
        f"cut_{name}": list(getattr(cut, name)) for name in _CUT_ITEM_TYPES if getattr(cut, name)
    }
    params |= {f"cut_{n}": getattr(cut, n) for n in _CUT_BOUNDS if getattr(cut, n) is not None}
    return params


def cut_shape(cut: Cut) -> Cut:
    """A cut with the same filters set, each to a placeholder: the key of a built statement."""
    placeholders: dict[str, Any] = {
        name: ((0,) if name == "year" else ("",) if t is not Uuid else (uuid.UUID(int=0),))
        for name, t in _CUT_ITEM_TYPES.items()
        if getattr(cut, name)
    }
    for name in TERRITORIAL:  # one territory or several: read from different sources
        if len(getattr(cut, name)) > 1:
            placeholders[name] = ("", "")
    placeholders |= {n: 0 for n in _CUT_BOUNDS if getattr(cut, n) is not None}
    return Cut(**placeholders)


def where_cut(s: FromClause, cut: Cut) -> list[ColumnElement[bool]]:
    """The cut's conditions on `s` (a `source`, or anything with its columns). Each filter is one
    parameter named `cut_<filter>`, bound to the cut's values: a statement run as built needs no
    parameters; one built for another cut with the same filters set takes `cut_params(cut)`.
    (So one statement holds one cut: two cuts would share their parameters' names.)"""
    where: list[ColumnElement[bool]] = []
    if cut.year:
        where.append(s.c.year == any_(_cut_values("year", cut.year)))
    if cut.year_from is not None:
        where.append(s.c.year >= bindparam("cut_year_from", cut.year_from, type_=Integer))
    if cut.year_to is not None:
        where.append(s.c.year <= bindparam("cut_year_to", cut.year_to, type_=Integer))
    if cut.programme:
        where.append(s.c.programme_id == any_(_cut_values("programme", cut.programme)))
    if cut.priority:
        served = select(ChantierPriority.chantier_id).where(
            ChantierPriority.priority_id == any_(_cut_values("priority", cut.priority))
        )
        where.append(s.c.chantier_id.in_(served))
    if cut.chantier:
        where.append(s.c.chantier_id == any_(_cut_values("chantier", cut.chantier)))
    if cut.action:
        where.append(s.c.action_id == any_(_cut_values("action", cut.action)))
    if cut.partner:
        where.append(s.c.partner_id == any_(_cut_values("partner", cut.partner)))
    if cut.partner_kind:
        kinds = select(Partner.id).where(
            Partner.kind == any_(_cut_values("partner_kind", cut.partner_kind))
        )
        where.append(s.c.partner_id.in_(kinds))
    if cut.status:
        where.append(s.c.status == any_(_cut_values("status", cut.status)))
    if cut.instrument:
        where.append(s.c.instrument == any_(_cut_values("instrument", cut.instrument)))
    placed = [dim for dim in TERRITORIAL if dim in s.c]
    if placed:  # a territorial source: the shares placed in these territories
        for dim in placed:
            if getattr(cut, dim):
                column = s.c.territory if "territory" in s.c else s.c[dim]
                where.append(column == any_(_cut_values(dim, getattr(cut, dim))))
    elif cut.commune:
        where.append(s.c.communes.overlap(_cut_values("commune", cut.commune)))
    return where


# The tables that name an entity, joined to the cells once they are grouped by ids: a join
# before the grouping costs one probe per roll-up row, after it one per cell.
_NAMED: dict[str, tuple[FromClause, str]] = {
    "programme": (Programme.__table__, "name"),
    "priority": (Priority.__table__, "name"),
    "chantier": (Chantier.__table__, "name"),
    "action": (Action.__table__, "title"),
    "partner": (Partner.__table__, "name"),
}
# A drilldown by one of these may put a commitment into several cells: the totals are then
# summed over the commitments themselves, not over the cells.
OVERLAPPING = frozenset({"priority", *TERRITORIAL})


@dataclass
class _Grouped:
    cells: Select[Any]
    """The cells grouped by the drilldown's ids and values, at most max_cells + 1 of them."""
    once: FromClause | None = None
    """Under a priority drilldown, the rows that count each commitment once (see _by_priority)."""


def _grouped(query: CellQuery) -> _Grouped:
    s = source(query.fine, query.territorial, query.level)
    if "priority" in query.drilldown and not query.fine:
        return _by_priority(s, query)
    from_: FromClause = s
    keys: list[ColumnElement[Any]] = []
    for dim in query.drilldown:
        if dim == "priority":
            link = ChantierPriority.__table__.alias("cp")
            from_ = from_.outerjoin(link, _served(link, s, query.cut))
            keys.append(link.c.priority_id.label("priority_id"))
        else:
            from_, key = _key(s, from_, dim)
            keys.append(key)
    finest = _finest_territory(query.drilldown)
    if finest is not None and query.level is None:  # the population dividing the cell's money
        keys.append(s.c[f"{finest}_population"].label("population"))
    measures = measures_of(s)
    grouped = (
        select(*keys, *(m.label(name) for name, m in measures.items()))
        .select_from(from_)
        .where(*where_cut(s, query.cut))
        .group_by(*keys)
    )
    return _Grouped(_at_most(grouped, query))


def _by_priority(s: FromClause, query: CellQuery) -> _Grouped:
    """A priority drilldown over the roll-up: the roll-up is first summed by chantier and the
    other dimensions (`once`: a few rows, each commitment in one), then those rows are joined
    to the chantiers' priorities (a chantier serving two priorities lands in both) and summed
    again. The join then costs one probe per chantier cell rather than per roll-up row, and
    the true totals are the sums of `once`, without a second pass over the roll-up."""
    from_: FromClause = s
    keys: list[ColumnElement[Any]] = []
    for dim in query.drilldown:
        if dim != "priority":
            from_, key = _key(s, from_, dim)
            keys.append(key)
    by_chantier = keys  # grouped by chantier anyway, once: a drilldown may name it too
    if "chantier" not in query.drilldown:
        by_chantier = [s.c.chantier_id.label("chantier_id"), *keys]
    once = (
        select(*by_chantier, *(m.label(name) for name, m in measures_of(s).items()))
        .select_from(from_)
        .where(*where_cut(s, query.cut))
        .group_by(*by_chantier)
        .cte("once")
    )
    link = ChantierPriority.__table__.alias("cp")
    regrouped = [
        link.c.priority_id.label("priority_id")
        if d == "priority"
        else once.c[f"{d}_id" if d in ENTITIES else d]
        for d in query.drilldown
    ]
    grouped = (
        select(*regrouped, *sums_of(once))
        .select_from(once.outerjoin(link, _served(link, once, query.cut)))
        .group_by(*regrouped)
    )
    return _Grouped(_at_most(grouped, query), once)


def _served(link: FromClause, s: FromClause, cut: Cut) -> ColumnElement[bool]:
    """The chantier_priorities rows of `s`'s chantier: only the priorities asked for, if any."""
    on = link.c.chantier_id == s.c.chantier_id
    if cut.priority:
        on = and_(on, link.c.priority_id == any_(_cut_values("priority", cut.priority)))
    return on


def _key(s: FromClause, from_: FromClause, dim: str) -> tuple[FromClause, ColumnElement[Any]]:
    """A dimension's grouping key in `s` (an entity by its id), and what to join for it."""
    if dim == "partner_kind":
        partner = Partner.__table__.alias("pk")
        return from_.join(partner, partner.c.id == s.c.partner_id), partner.c.kind.label(dim)
    if dim in ENTITIES:
        return from_, s.c[f"{dim}_id"].label(f"{dim}_id")
    return from_, s.c[dim].label(dim)


def _finest_territory(drilldown: Collection[str]) -> str | None:
    """The territorial dimension whose population divides a cell's money (per inhabitant)."""
    return next((dim for dim in TERRITORIAL if dim in drilldown), None)


def _at_most(grouped: Select[Any], query: CellQuery) -> Select[Any]:
    if query.max_cells is None:
        return grouped
    # A constant, not a parameter: PostgreSQL's generic plan of a prepared statement does not
    # know a parameter's LIMIT, guesses a few rows and picks a nested loop (3 ms instead of
    # 1 ms over the roll-up).
    return grouped.limit(literal_column(str(query.max_cells + 1), Integer))


@dataclass
class _Named:
    """The grouped cells joined to their entities' codes and names, and how to order them."""

    from_: FromClause
    columns: list[ColumnElement[Any]]
    keys: list[SortKey]

    @property
    def order(self) -> list[ColumnElement[Any]]:
        return [k.clause() for k in self.keys]


def _named(g: FromClause, query: CellQuery) -> _Named:
    from_: FromClause = g
    columns: list[ColumnElement[Any]] = []
    sort: dict[str, ColumnElement[Any]] = {}
    for dim in query.drilldown:
        if dim in ENTITIES:
            table, name = _NAMED[dim]
            named = table.alias(f"n_{dim}")
            id_ = g.c[f"{dim}_id"]
            from_ = from_.outerjoin(named, named.c.id == id_)
            columns += [
                id_.label(f"{dim}_id"),
                named.c.code.label(f"{dim}_code"),
                named.c[name].label(f"{dim}_name"),
            ]
            sort[dim] = named.c.code
        else:
            columns.append(g.c[dim].label(dim))
            sort[dim] = g.c[dim]
    if "population" in g.c:
        columns.append(g.c.population)
    elif (finest := _finest_territory(query.drilldown)) is not None:  # from a roll-up: per cell
        columns.append(_population(finest, g.c[finest]).label("population"))
    measures = [g.c[name] for name in ("planned", "committed", "disbursed", "count")]
    by_name = {
        **{m.key: m for m in measures},
        "execution_rate": g.c.disbursed / func.nullif(g.c.committed, 0),
        **sort,
    }
    keys = [SortKey(by_name[k.name], k.descending) for k in query.order]
    keys += [SortKey(sort[d]) for d in query.drilldown]
    return _Named(from_, [*columns, *measures], keys)


def _page(stmt: Select[Any], query: CellQuery) -> Select[Any]:
    if query.offset or query.limit is not None:
        stmt = stmt.offset(bindparam("page_offset", query.offset, type_=Integer))
    if query.limit is not None:
        stmt = stmt.limit(bindparam("page_limit", query.limit, type_=Integer))
    return stmt


def page_params(query: CellQuery) -> dict[str, Any]:
    """The parameters of a statement built by `cells_statement` or `page_statement`."""
    params = cut_params(query.cut)
    if query.offset or query.limit is not None:
        params["page_offset"] = query.offset
    if query.limit is not None:
        params["page_limit"] = query.limit
    return params


def _shape(query: CellQuery) -> CellQuery:
    """What a statement's text depends on: the values become parameters (`page_params`)."""
    return replace(
        query,
        cut=cut_shape(query.cut),
        limit=None if query.limit is None else 1,
        # With a limit the offset is always a parameter; without, only if there is one.
        offset=1 if query.offset and query.limit is None else 0,
    )


def cells_statement(query: CellQuery) -> Select[Any]:
    """The cells, each row also carrying `total_cell_count` and `count_in_cells` (Σ counts);
    run with `page_params(query)`.

    The grouping is an inner query stopped at `max_cells + 1` rows before any sort: a drilldown
    over too many cells costs one grouping pass, and its `total_cell_count` of `max_cells + 1`
    says "too many" without ordering, windowing or sending them. The names, the window and the
    order then run over at most that many rows.
    """
    return _cells_statement(_shape(query))


@lru_cache(maxsize=512)
def _cells_statement(query: CellQuery) -> Select[Any]:
    g = _grouped(query).cells.subquery("g")
    named = _named(g, query)
    stmt = (
        select(
            *named.columns,
            func.count().over().label("total_cell_count"),
            func.sum(g.c["count"]).over().label("count_in_cells"),
            func.sum(g.c.planned + g.c.committed).over().label("money_in_cells"),
        )
        .select_from(named.from_)
        .order_by(*named.order)
    )
    return _page(stmt, query)


def page_statement(query: CellQuery) -> Select[Any]:
    """One page of cells and what the answer says besides, in one statement, one round trip;
    run with `page_params(query)`.

    The first row carries `total_cell_count`, `count_in_cells` and the true totals
    (`total_planned`, `total_committed`, `total_disbursed`, `total_count`); the page's cells
    follow in it and the next rows (`in_page` true), ordered. A page past the end is that one
    row with `in_page` null. Without overlapping dimensions the totals are the sums of the
    cells (each commitment is in one cell); with them (priority, commune) a second pass sums
    the commitments once.
    """
    return _page_statement(_shape(query))


@lru_cache(maxsize=512)
def _page_statement(query: CellQuery) -> Select[Any]:
    grouped = _grouped(query)
    g = grouped.cells.cte("g")
    named = _named(g, query)
    page = _page(
        sorted_page(select(true().label("in_page"), *named.columns), named.keys).select_from(
            named.from_
        ),
        query,
    ).lateral("page")
    cells = [
        func.count().label("total_cell_count"),
        func.coalesce(func.sum(g.c["count"]), 0).label("count_in_cells"),
        func.coalesce(func.sum(g.c.planned + g.c.committed), 0).label("money_in_cells"),
    ]
    if OVERLAPPING & set(query.drilldown) and grouped.once is None:
        t = totals_source(query.cut)
        summed = select(
            *(m.label(f"total_{name}") for name, m in measures_of(t).items())
        ).select_from(t)
        totals: FromClause = summed.where(*where_cut(t, query.cut)).subquery("t")
    else:  # the sums of rows that hold each commitment once: the cells, or `once`
        once = g if grouped.once is None else grouped.once
        totals = select(*sums_of(once, prefix="total_")).subquery("t")
    counts = select(*cells).select_from(g).subquery("c")
    head: FromClause = counts.join(totals, true())
    head_columns = [*counts.c, *totals.c]
    return (
        select(*head_columns, *page_columns(page))
        .select_from(head.outerjoin(page, true()))
        .order_by(*page_order(page, named.keys))
    )


def sums_of(rows: FromClause, prefix: str = "") -> list[ColumnElement[Any]]:
    """The measures summed over rows that already carry them (cells, sub-totals)."""
    zero = literal(Decimal(0))
    return [
        *(
            func.coalesce(func.sum(rows.c[name]), zero).label(f"{prefix}{name}")
            for name in ("planned", "committed", "disbursed")
        ),
        func.coalesce(func.sum(rows.c["count"]), 0).label(f"{prefix}count"),
    ]


def totals_statement(cut: Cut) -> Select[Any]:
    """The true total over `cut` (no join that could count a commitment twice); run with
    `cut_params(cut)`."""
    return _totals_statement(cut_shape(cut))


@lru_cache(maxsize=256)
def _totals_statement(cut: Cut) -> Select[Any]:
    s = totals_source(cut)
    return (
        select(*(m.label(n) for n, m in measures_of(s).items()))
        .select_from(s)
        .where(*where_cut(s, cut))
    )
