"""The cash-flow statements: committed (commitment roll-up), scheduled and paid (cash-flow
roll-up), or, for action and commune, the base tables; grouped by the drilldown's dimensions
and the time axis, every period of a cell's span present, `remaining` a running sum. Built
here once per *shape* (which filters are set, the drilldown, the axis, the order: every value
is a parameter, see `cube_params`), so that asyncpg's prepared statements are reused from
request to request; executed only by `app.cashflow.repository`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.models import (
    Action,
    CashflowRollup,
    Chantier,
    ChantierPriority,
    Commitment,
    CommitmentRollup,
    Partner,
    Payment,
    Priority,
    Programme,
    ScheduleLine,
)
from app.models.enums import CommitmentStatus, PaymentKind
from app.reporting.statements import (
    ENTITIES,
    FINE,
    Cut,
    OrderKey,
    SortKey,
    cut_params,
    cut_shape,
    page_columns,
    page_order,
    sorted_page,
    where_cut,
)

AXES = ("year", "month")
MEASURES = ("committed", "scheduled", "paid", "remaining")
AMOUNTS = ("committed", "scheduled", "paid")
NAMED = {
    "programme": (Programme, "code", "name"),
    "priority": (Priority, "code", "name"),
    "chantier": (Chantier, "code", "name"),
    "action": (Action, "code", "title"),
    "partner": (Partner, "code", "name"),
}


@dataclass(frozen=True)
class CashflowQuery:
    drilldown: tuple[str, ...]  # the dimensions besides the time axis (never `year`)
    cut: Cut = field(default_factory=Cut)
    axis: str = "year"
    order: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    max_cells: int | None = None

    @property
    def fine(self) -> bool:
        return bool(FINE & set(self.drilldown)) or bool(self.cut.action or self.cut.commune)


def without_years(cut: Cut) -> Cut:
    """The cut the facts are read with: years select the cells shown, never the history that
    `remaining` accumulates."""
    return replace(cut, year=(), year_from=None, year_to=None)


def years_only(cut: Cut) -> Cut:
    return Cut(year=cut.year, year_from=cut.year_from, year_to=cut.year_to)


def _zero() -> ColumnElement[Any]:
    return literal(Decimal(0))


def _signed(p: Any) -> ColumnElement[Any]:
    return case((p.kind == PaymentKind.reversal.value, -p.amount), else_=p.amount)


def facts(fine: bool, axis: str, cut: Cut | None = None) -> FromClause:
    """Rows (the grain's columns, `year`, `period`, committed, scheduled, paid): `period` is the
    year, or with the month axis year × 12 + month − 1, commitments and schedule lines on their
    year's January.

    With the month axis over the roll-ups and years in `cut`, only the years shown are read
    month by month: another year's payments are its yearly row's, on its January. That year's
    cells are not shown, and `remaining` at the end of each month shown is the same, since
    it sums whole years before it; the cells' spans then differ only within such years."""
    monthly = axis == "month"
    if not fine:
        cr = CommitmentRollup.__table__.c
        cf = CashflowRollup.__table__.c
        keys = ("programme_id", "chantier_id", "partner_id", "status", "instrument", "year")

        def grain(t: Any) -> list[ColumnElement[Any]]:
            return [t[k] for k in keys]

        committed = select(
            *grain(cr),
            (cr.year * 12 if monthly else cr.year).label("period"),
            cr.amount_sum.label("committed"),
            _zero().label("scheduled"),
            _zero().label("paid"),
        )
        if not monthly:
            cash = [
                select(
                    *grain(cf),
                    cf.year.label("period"),
                    _zero(),
                    cf.scheduled_sum,
                    cf.paid_sum,
                ).where(cf.month == 0)
            ]
        elif cut is None or not (shown := where_cut(CashflowRollup.__table__, years_only(cut))):
            cash = [
                select(*grain(cf), cf.year * 12, _zero(), cf.scheduled_sum, _zero()).where(
                    cf.month == 0, cf.line_count > 0
                ),
                select(
                    *grain(cf), cf.year * 12 + cf.month - 1, _zero(), _zero(), cf.paid_sum
                ).where(cf.month > 0),
            ]
        else:
            in_shown = and_(*shown)
            cash = [
                select(
                    *grain(cf),
                    cf.year * 12,
                    _zero(),
                    cf.scheduled_sum,
                    case((in_shown, _zero()), else_=cf.paid_sum),
                ).where(cf.month == 0, or_(cf.line_count > 0, ~in_shown)),
                select(
                    *grain(cf), cf.year * 12 + cf.month - 1, _zero(), _zero(), cf.paid_sum
                ).where(cf.month > 0, *shown),
            ]
        return union_all(committed, *cash).subquery("s")
    c, a = Commitment.__table__.c, Action.__table__.c
    line, p = ScheduleLine.__table__.c, Payment.__table__.c
    paid_year = cast(extract("year", p.paid_on), Integer)
    paid_month = cast(extract("month", p.paid_on), Integer)
    per_commitment = union_all(
        select(
            c.id.label("commitment_id"),
            c.year.label("year"),
            (c.year * 12 if monthly else c.year).label("period"),
            c.amount.label("committed"),
            _zero().label("scheduled"),
            _zero().label("paid"),
        ),
        select(
            line.commitment_id,
            line.year,
            line.year * 12 if monthly else line.year,
            _zero(),
            line.amount,
            _zero(),
        ),
        select(
            p.commitment_id,
            paid_year,
            paid_year * 12 + paid_month - 1 if monthly else paid_year,
            _zero(),
            _zero(),
            _signed(p),
        ),
    ).subquery("f")
    f = per_commitment.c
    return (
        select(
            c.action_id,
            a.communes,
            a.chantier_id,
            a.programme_id,
            c.partner_id,
            c.status,
            c.instrument,
            f.year,
            f.period,
            f.committed,
            f.scheduled,
            f.paid,
        )
        .select_from(  # an outer join to the action: left out when none of its columns is read
            per_commitment.join(Commitment.__table__, c.id == f.commitment_id).outerjoin(
                Action.__table__, a.id == c.action_id
            )
        )
        .subquery("s")
    )


def _where(s: FromClause, cut: Cut) -> list[ColumnElement[bool]]:
    return [s.c.status == CommitmentStatus.committed.value, *where_cut(s, without_years(cut))]


def _priorities(values: Collection[uuid.UUID]) -> Any:
    """The `priority` filter's parameter, the one `where_cut` binds (same name, same values)."""
    return bindparam("cut_priority", list(values), type_=ARRAY(Uuid))


def _communes(values: Collection[str]) -> Any:
    """The `commune` filter's parameter, the one `where_cut` binds."""
    return bindparam("cut_commune", list(values), type_=ARRAY(String(5)))


@dataclass
class _Keys:
    from_: FromClause
    columns: list[ColumnElement[Any]]  # labelled `<dim>_id` for entities, `<dim>` otherwise


def _keys(s: FromClause, query: CashflowQuery) -> _Keys:
    """The drilldown's grouping keys: ids only (names are joined to the few result rows)."""
    from_: FromClause = s
    columns: list[ColumnElement[Any]] = []
    for dim in query.drilldown:
        if dim in ("programme", "chantier", "partner", "action"):
            columns.append(s.c[f"{dim}_id"].label(f"{dim}_id"))
        elif dim == "priority":
            link = ChantierPriority.__table__.alias("cp")
            on = link.c.chantier_id == s.c.chantier_id
            if query.cut.priority:  # cells only for the priorities asked for
                on = and_(on, link.c.priority_id == any_(_priorities(query.cut.priority)))
            from_ = from_.outerjoin(link, on)
            columns.append(link.c.priority_id.label("priority_id"))
        elif dim == "partner_kind":
            partner = Partner.__table__.alias("pk")
            from_ = from_.join(partner, partner.c.id == s.c.partner_id)
            columns.append(partner.c.kind.label("partner_kind"))
        elif dim == "commune":
            unnested = (
                func.unnest(s.c.communes).table_valued("commune").render_derived(name="cm")
            ).lateral("cm")
            on_commune: ColumnElement[bool] = true()
            if query.cut.commune:  # cells only for the communes asked for
                on_commune = unnested.c.commune == any_(_communes(query.cut.commune))
            from_ = from_.outerjoin(unnested, on_commune)
            columns.append(unnested.c.commune.label("commune"))
        else:  # status, instrument
            columns.append(s.c[dim].label(dim))
    return _Keys(from_, columns)


def key_names(drilldown: tuple[str, ...]) -> list[str]:
    return [f"{d}_id" if d in ENTITIES else d for d in drilldown]


@dataclass
class _Cells:
    shown: Select[Any]
    """The cells, at most max_cells + 1 of them."""
    grouped: FromClause
    """The facts grouped by the drilldown's keys and the period (`g`), before the zero rows."""
    once: FromClause | None = None
    """Under a priority drilldown, the groups that hold each fact once (see _by_priority)."""


def _cells(query: CashflowQuery) -> _Cells:
    """The cells, stopped at `max_cells + 1` before any name is joined or anything sorted.

    The rows of the time axis come after the grouping: each cell's span (its first period to
    its last) is filled with zero rows, so that `remaining`, a running sum over the periods,
    is there for every period. The cells shown are then stopped at `max_cells + 1`, as the
    commitments cube does."""
    names = key_names(query.drilldown)
    once: FromClause | None = None
    if "priority" in query.drilldown and not query.fine:
        once, grouped = _by_priority(query)
    else:
        s = facts(query.fine, query.axis, query.cut)
        keys = _keys(s, query)
        grouped = (
            select(
                *keys.columns,
                s.c.period,
                *(func.sum(s.c[m]).label(m) for m in AMOUNTS),
                func.count().label("facts"),
            )
            .select_from(keys.from_)
            .where(*_where(s, query.cut))
            .group_by(*keys.columns, s.c.period)
            .cte("g")  # read twice (the rows, their spans): computed once
        )
    g = grouped.c
    spans = (
        select(
            *(g[n] for n in names), func.min(g.period).label("lo"), func.max(g.period).label("hi")
        )
        .group_by(*(g[n] for n in names))
        .subquery("spans")
    )
    zero_rows = select(
        *(spans.c[n] for n in names),
        func.generate_series(spans.c.lo, spans.c.hi).label("period"),
        *(_zero().label(m) for m in AMOUNTS),
        literal(0).label("facts"),
    )
    every = union_all(select(grouped), zero_rows).subquery("every")
    e = every.c
    dense = (
        select(
            *(e[n] for n in names),
            e.period,
            *(func.sum(e[m]).label(m) for m in AMOUNTS),
            func.sum(e.facts).label("facts"),
        )
        .group_by(*(e[n] for n in names), e.period)
        .subquery("dense")
    )
    d = dense.c
    year = d.period // 12 if query.axis == "month" else d.period
    running = select(
        *(d[n] for n in names),
        year.label("year"),
        (d.period % 12 + 1 if query.axis == "month" else literal(None, Integer)).label("month"),
        d.period,
        *(d[m] for m in AMOUNTS),
        func.sum(d.committed - d.paid)
        .over(partition_by=[d[n] for n in names] or None, order_by=d.period)
        .label("remaining"),
        d.facts,
    ).subquery("running")
    shown = select(running).where(*where_cut(running, years_only(query.cut)))
    if query.max_cells is not None:
        # A constant, not a parameter: the generic plan of a prepared statement does not know
        # a parameter's LIMIT (see app.reporting.statements).
        shown = shown.limit(literal_column(str(query.max_cells + 1), Integer))
    return _Cells(shown, grouped, once)


def _by_priority(query: CashflowQuery) -> tuple[FromClause, FromClause]:
    """A priority drilldown over the roll-ups: the facts are first summed by chantier, the
    other dimensions and the period (`once`: each fact in one row), then those rows are joined
    to the chantiers' priorities (a chantier serving two lands in both, one serving none in the
    `null` one) and summed again (`g`). The join costs a probe per chantier row rather than
    per fact, and the summary is the sums of `once`, without a second pass over the facts."""
    s = facts(query.fine, query.axis, query.cut)
    others = replace(query, drilldown=tuple(d for d in query.drilldown if d != "priority"))
    keys = _keys(s, others)
    by_chantier = keys.columns  # a drilldown may name the chantier too: grouped by it once
    if "chantier" not in query.drilldown:
        by_chantier = [s.c.chantier_id.label("chantier_id"), *keys.columns]
    once = (
        select(
            *by_chantier,
            s.c.period,
            *(func.sum(s.c[m]).label(m) for m in AMOUNTS),
            func.count().label("facts"),
        )
        .select_from(keys.from_)
        .where(*_where(s, query.cut))
        .group_by(*by_chantier, s.c.period)
        .cte("once")
    )
    link = ChantierPriority.__table__.alias("cp")
    on = link.c.chantier_id == once.c.chantier_id
    if query.cut.priority:  # cells only for the priorities asked for
        on = and_(on, link.c.priority_id == any_(_priorities(query.cut.priority)))
    regrouped = [
        link.c.priority_id.label("priority_id") if d == "priority" else once.c[n]
        for d, n in zip(query.drilldown, key_names(query.drilldown), strict=True)
    ]
    grouped = (
        select(
            *regrouped,
            once.c.period,
            *(func.sum(once.c[m]).label(m) for m in AMOUNTS),
            func.sum(once.c.facts).label("facts"),
        )
        .select_from(once.outerjoin(link, on))
        .group_by(*regrouped, once.c.period)
        .cte("g")
    )
    return once, grouped


@dataclass
class _Named:
    """The cells joined to their entities' codes and names, and their order."""

    from_: FromClause
    columns: list[ColumnElement[Any]]
    keys: list[SortKey]

    @property
    def order(self) -> list[ColumnElement[Any]]:
        return [k.clause() for k in self.keys]


def _named(cells: FromClause, query: CashflowQuery) -> _Named:
    from_: FromClause = cells
    columns: list[ColumnElement[Any]] = []
    sort: dict[str, ColumnElement[Any]] = {}
    for dim in query.drilldown:
        if dim in NAMED:
            model, code, name = NAMED[dim]
            t = model.__table__.alias(f"n_{dim}")
            from_ = from_.outerjoin(t, t.c.id == cells.c[f"{dim}_id"])
            columns += [t.c[code].label(f"{dim}_code"), t.c[name].label(f"{dim}_name")]
            sort[dim] = t.c[code]
        else:
            sort[dim] = cells.c[dim]
    by_name: dict[str, ColumnElement[Any]] = {
        **{m: cells.c[m] for m in MEASURES},
        **sort,
        "year": cells.c.year,
    }
    keys = [SortKey(by_name[k.name], k.descending) for k in query.order]
    keys += [SortKey(sort[dim]) for dim in query.drilldown]
    keys.append(SortKey(cells.c.period))
    return _Named(from_, columns, keys)


def _page(stmt: Select[Any], query: CashflowQuery) -> Select[Any]:
    stmt = stmt.offset(bindparam("page_offset", query.offset, type_=Integer))
    if query.limit is not None:
        stmt = stmt.limit(bindparam("page_limit", query.limit, type_=Integer))
    return stmt


def _shape(query: CashflowQuery) -> CashflowQuery:
    """What a statement's text depends on: the values become parameters (`cube_params`)."""
    return replace(
        query, cut=cut_shape(query.cut), limit=None if query.limit is None else 1, offset=0
    )


def cube_params(query: CashflowQuery, as_of: int | None = None) -> dict[str, Any]:
    """The parameters of a statement built by `cells_statement` (`as_of` None) or
    `cube_statement`."""
    params = cut_params(query.cut) | {"page_offset": query.offset}
    if query.limit is not None:
        params["page_limit"] = query.limit
    if as_of is not None:
        params["as_of"] = as_of
    return params


def cells_statement(query: CashflowQuery) -> Select[Any]:
    """The cells, each row also carrying `total_cell_count` and `facts_in_cells` (the facts
    summed into the cells: more than the summary's when cells overlap); run with
    `cube_params(query)`."""
    return _cells_statement(_shape(query))


@lru_cache(maxsize=256)
def _cells_statement(query: CashflowQuery) -> Select[Any]:
    cells = _cells(query).shown.subquery("cells")
    named = _named(cells, query)
    stmt = (
        select(
            cells,
            *named.columns,
            func.count().over().label("total_cell_count"),
            func.sum(cells.c.facts).over().label("facts_in_cells"),
        )
        .select_from(named.from_)
        .order_by(*named.order)
    )
    return _page(stmt, query)


def cube_statement(query: CashflowQuery) -> Select[Any]:
    """One page of cells, the cell count and the summary's totals in one statement, one round
    trip; run with `cube_params(query, as_of)`.

    The first row carries `total_cell_count`, `facts_in_cells` and the summary (`total_<m>`
    for committed, scheduled, paid, remaining, paid_last_three_years and facts); the page's
    cells follow in it and the next rows (`in_page` true), ordered. A page past the end (or
    no cell) is that one row with `in_page` null."""
    return _cube_statement(_shape(query))


@lru_cache(maxsize=256)
def _cube_statement(query: CashflowQuery) -> Select[Any]:
    built = _cells(query)
    cells = built.shown.cte("cells")  # read twice: the page, the counts
    named = _named(cells, query)
    page = _page(
        sorted_page(select(true().label("in_page"), cells, *named.columns), named.keys).select_from(
            named.from_
        ),
        query,
    ).lateral("page")
    counts = select(
        func.count().label("total_cell_count"),
        func.coalesce(func.sum(cells.c.facts), 0).label("facts_in_cells"),
    ).subquery("c")
    if built.once is not None:  # each fact in one group of `once`
        summary = _summary_of_groups(built.once, query).subquery("sm")
    elif OVERLAPPING & set(query.drilldown):  # a fact may be in several groups
        summary = _summary(query.cut, query.axis, query.fine).subquery("sm")
    else:  # each fact is in one group: the totals are the groups' sums, no second pass
        summary = _summary_of_groups(built.grouped, query).subquery("sm")
    t = select(*(c.label(f"total_{c.key}") for c in summary.c)).subquery("t")
    return (
        select(*counts.c, *t.c, *page_columns(page))
        .select_from(counts.join(t, true()).outerjoin(page, true()))
        .order_by(*page_order(page, named.keys))
    )


# A drilldown by one of these may put a fact into several cells (a chantier serving two
# priorities, an action over two communes asked for) or, under a filter, into none.
OVERLAPPING = frozenset({"priority", "commune"})


def _totals(s: FromClause, cut: Cut, count: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The summary's columns over `s` (facts, or groups of them: `count` counts the facts),
    which has `year`, committed, scheduled and paid."""
    in_years = and_(true(), *where_cut(s, years_only(cut)))
    as_of = bindparam("as_of", type_=Integer)
    zero = _zero()
    return [
        *(func.coalesce(func.sum(s.c[m]).filter(in_years), zero).label(m) for m in AMOUNTS),
        func.coalesce(func.sum(s.c.committed - s.c.paid).filter(s.c.year <= as_of), zero).label(
            "remaining"
        ),
        func.coalesce(func.sum(s.c.paid).filter(s.c.year.between(as_of - 2, as_of)), zero).label(
            "paid_last_three_years"
        ),
        func.coalesce(count.filter(in_years), 0).label("facts"),
    ]


def _summary_of_groups(grouped: FromClause, query: CashflowQuery) -> Select[Any]:
    """The summary from the cells' groups (`g`), when each fact is in exactly one of them: the
    same sums as `_summary`, without reading the facts a second time."""
    g = grouped.c
    year = g.period // 12 if query.axis == "month" else g.period
    groups = select(year.label("year"), *(g[m] for m in AMOUNTS), g.facts).subquery("groups")
    return select(*_totals(groups, query.cut, func.sum(groups.c.facts)))


def _summary(cut: Cut, axis: str, fine: bool) -> Select[Any]:
    """The true totals over the cut (each fact once: no join that could repeat one), with
    `remaining` at the end of the year bound as `as_of` and the payments of its last three
    years (`as_of` − 2 to `as_of`), which the years of the cut do not restrict."""
    s = facts(fine, axis, cut)
    return select(*_totals(s, cut, func.count())).where(*_where(s, cut))
