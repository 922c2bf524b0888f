"""The aggregate statements the reporting repository runs: sums over the commitment roll-up
(or, for action and commune, over commitments themselves), grouped by the requested dimensions.
Built here, executed only by `app.reporting.repository`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    nulls_last,
    select,
    true,
    tuple_,
    union_all,
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
)
from app.models.enums import CommitmentStatus

ENTITIES = ("programme", "priority", "chantier", "action", "partner")
DIMENSIONS = (*ENTITIES, "partner_kind", "year", "status", "instrument", "commune")
MEASURES = ("planned", "committed", "disbursed", "count", "execution_rate")
# Dimensions that only the commitments themselves know (the roll-up stops at the chantier).
FINE = frozenset({"action", "commune"})


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


@dataclass(frozen=True)
class OrderKey:
    name: str  # a measure or a drilldown dimension
    descending: bool


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
        return bool(FINE & set(self.drilldown)) or bool(self.cut.action or self.cut.commune)


def source(fine: bool) -> FromClause:
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
        .select_from(Commitment.__table__.join(Action.__table__, a.id == c.action_id))
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
        "count": func.coalesce(func.sum(s.c.commitment_count), 0),
    }


def _communes(values: Collection[str]) -> Any:
    return bindparam(None, list(values), type_=ARRAY(String(5)))


def where_cut(s: FromClause, cut: Cut) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if cut.year:
        where.append(s.c.year.in_(cut.year))
    if cut.year_from is not None:
        where.append(s.c.year >= cut.year_from)
    if cut.year_to is not None:
        where.append(s.c.year <= cut.year_to)
    if cut.programme:
        where.append(s.c.programme_id.in_(cut.programme))
    if cut.priority:
        served = select(ChantierPriority.chantier_id).where(
            ChantierPriority.priority_id.in_(cut.priority)
        )
        where.append(s.c.chantier_id.in_(served))
    if cut.chantier:
        where.append(s.c.chantier_id.in_(cut.chantier))
    if cut.action:
        where.append(s.c.action_id.in_(cut.action))
    if cut.partner:
        where.append(s.c.partner_id.in_(cut.partner))
    if cut.partner_kind:
        kinds = select(Partner.id).where(Partner.kind.in_(cut.partner_kind))
        where.append(s.c.partner_id.in_(kinds))
    if cut.status:
        where.append(s.c.status.in_(cut.status))
    if cut.instrument:
        where.append(s.c.instrument.in_(cut.instrument))
    if cut.commune:
        where.append(s.c.communes.overlap(_communes(cut.commune)))
    return where


@dataclass
class _Plan:
    from_: FromClause
    columns: list[ColumnElement[Any]]
    group_by: list[ColumnElement[Any]]


def _drill(s: FromClause, query: CellQuery) -> _Plan:
    from_: FromClause = s
    columns: list[ColumnElement[Any]] = []
    group_by: list[ColumnElement[Any]] = []
    partner = Partner.__table__.alias("p")
    joined_partner = False
    for dim in query.drilldown:
        if dim in ("partner", "partner_kind") and not joined_partner:
            from_ = from_.join(partner, partner.c.id == s.c.partner_id)
            joined_partner = True
        if dim == "programme":
            programme = Programme.__table__.alias("pg")
            from_ = from_.join(programme, programme.c.id == s.c.programme_id)
            entity = (programme.c.id, programme.c.code, programme.c.name)
        elif dim == "priority":
            link = ChantierPriority.__table__.alias("cp")
            on = link.c.chantier_id == s.c.chantier_id
            if query.cut.priority:  # cells only for the priorities asked for
                on = and_(on, link.c.priority_id.in_(query.cut.priority))
            priority = Priority.__table__.alias("pr")
            from_ = from_.outerjoin(link, on).outerjoin(
                priority, priority.c.id == link.c.priority_id
            )
            entity = (priority.c.id, priority.c.code, priority.c.name)
        elif dim == "chantier":
            chantier = Chantier.__table__.alias("ch")
            from_ = from_.join(chantier, chantier.c.id == s.c.chantier_id)
            entity = (chantier.c.id, chantier.c.code, chantier.c.name)
        elif dim == "action":
            entity = (s.c.action_id, s.c.action_code, s.c.action_name)
        elif dim == "partner":
            entity = (partner.c.id, partner.c.code, partner.c.name)
        else:
            if dim == "partner_kind":
                value = partner.c.kind
            elif dim == "commune":
                unnested = (
                    func.unnest(s.c.communes)
                    .table_valued("commune")
                    .render_derived(name="cm")
                    .lateral("cm")
                )
                on_commune: ColumnElement[bool] = true()
                if query.cut.commune:  # cells only for the communes asked for
                    on_commune = unnested.c.commune.in_(query.cut.commune)
                from_ = from_.outerjoin(unnested, on_commune)
                value = unnested.c.commune
            else:
                value = s.c[dim]
            columns.append(value.label(dim))
            group_by.append(value)
            continue
        id_, code, name = entity
        columns += [id_.label(f"{dim}_id"), code.label(f"{dim}_code"), name.label(f"{dim}_name")]
        group_by += [id_, code, name]
    return _Plan(from_, columns, group_by)


def cells_statement(query: CellQuery) -> Select[Any]:
    """The cells, each row also carrying `total_cell_count` and `count_in_cells` (Σ counts).

    The grouping is an inner query stopped at `max_cells + 1` rows before any sort: a drilldown
    over too many cells costs one grouping pass, and its `total_cell_count` of `max_cells + 1`
    says "too many" without ordering, windowing or sending them. The window and the order then
    run over at most that many rows.
    """
    s = source(query.fine)
    plan = _drill(s, query)
    measures = measures_of(s)
    grouped = (
        select(*plan.columns, *(m.label(name) for name, m in measures.items()))
        .select_from(plan.from_)
        .where(*where_cut(s, query.cut))
        .group_by(*plan.group_by)
    )
    if query.max_cells is not None:
        grouped = grouped.limit(query.max_cells + 1)
    g = grouped.subquery("g")
    sort = {dim: g.c[f"{dim}_code"] if dim in ENTITIES else g.c[dim] for dim in query.drilldown}
    by_name = {
        **{name: g.c[name] for name in measures},
        "execution_rate": g.c.disbursed / func.nullif(g.c.committed, 0),
        **sort,
    }
    order = [
        nulls_last(by_name[k.name].desc() if k.descending else by_name[k.name].asc())
        for k in query.order
    ]
    order += [nulls_last(sort[d].asc()) for d in query.drilldown]
    stmt = (
        select(
            g,
            func.count().over().label("total_cell_count"),
            func.sum(g.c["count"]).over().label("count_in_cells"),
        )
        .order_by(*order)
        .offset(query.offset)
    )
    return stmt if query.limit is None else stmt.limit(query.limit)


SUMMARY_BREAKDOWNS = ("programme", "priority", "chantier", "partner", "year")


def _summary_statement(*, of_programme: bool) -> Select[Any]:
    """The totals and the five breakdowns of /v1/summary in one statement, one round trip;
    `of_programme`: only the roll-up rows of the programme bound as `programme_id`.

    Programme, chantier, partner and year are grouping sets over the roll-up joined one-to-one
    to programmes, chantiers and partners, so each commitment counts once in each of them and
    in the totals (the programmes' totals add up to the grand total, to the cent).
    Priorities need the chantier_priorities link, which counts a chantier serving two priorities
    twice (as documented): that breakdown is a second branch, UNION ALL. Rows come ordered by
    breakdown, then as the aggregate endpoint orders them: committed descending then code, and
    years in order. The roll-up has a few thousand rows, so scanning it twice costs little.
    """
    r = CommitmentRollup.__table__.alias("r")
    programme = Programme.__table__.alias("pg")
    chantier = Chantier.__table__.alias("ch")
    partner = Partner.__table__.alias("p")
    measures = [m.label(name) for name, m in measures_of(r).items()]
    breakdown = case(
        (func.grouping(programme.c.id) == 0, literal("programme")),
        (func.grouping(chantier.c.id) == 0, literal("chantier")),
        (func.grouping(partner.c.id) == 0, literal("partner")),
        (func.grouping(r.c.year) == 0, literal("year")),
        else_=literal("totals"),
    )
    by_grain = (
        select(
            breakdown.label("breakdown"),
            func.coalesce(programme.c.id, chantier.c.id, partner.c.id).label("id"),
            func.coalesce(programme.c.code, chantier.c.code, partner.c.code).label("code"),
            func.coalesce(programme.c.name, chantier.c.name, partner.c.name).label("name"),
            r.c.year,
            *measures,
        )
        .select_from(
            r.join(programme, programme.c.id == r.c.programme_id)
            .join(chantier, chantier.c.id == r.c.chantier_id)
            .join(partner, partner.c.id == r.c.partner_id)
        )
        .where(*_of_programme(r, of_programme))
        .group_by(
            func.grouping_sets(
                tuple_(),
                tuple_(programme.c.id, programme.c.code, programme.c.name),
                tuple_(chantier.c.id, chantier.c.code, chantier.c.name),
                tuple_(partner.c.id, partner.c.code, partner.c.name),
                tuple_(r.c.year),
            )
        )
    )
    rp = CommitmentRollup.__table__.alias("rp")
    link = ChantierPriority.__table__.alias("cp")
    priority = Priority.__table__.alias("pr")
    by_priority = (
        select(
            literal("priority").label("breakdown"),
            priority.c.id,
            priority.c.code,
            priority.c.name,
            null().label("year"),
            *(m.label(name) for name, m in measures_of(rp).items()),
        )
        .select_from(
            rp.outerjoin(link, link.c.chantier_id == rp.c.chantier_id).outerjoin(
                priority, priority.c.id == link.c.priority_id
            )
        )
        .where(*_of_programme(rp, of_programme))
        .group_by(priority.c.id, priority.c.code, priority.c.name)
    )
    rows = union_all(by_grain, by_priority).subquery("s")
    return select(rows).order_by(
        rows.c.breakdown,
        case((rows.c.breakdown == "year", literal(Decimal(0))), else_=rows.c.committed).desc(),
        nulls_last(rows.c.code.asc()),
        nulls_last(rows.c.year.asc()),
    )


def _of_programme(r: FromClause, of_programme: bool) -> list[ColumnElement[bool]]:
    return [r.c.programme_id == bindparam("programme_id")] if of_programme else []


# Constants: built once, so a request pays no statement construction.
SUMMARY = _summary_statement(of_programme=False)
PROGRAMME_SUMMARY = _summary_statement(of_programme=True)
