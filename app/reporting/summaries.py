"""The statements of the answers whose shape is fixed: /v1/summary (of every programme or of
one) and the progress of a chantier or a priority. Constants, built once at import; executed
only by `app.reporting.repository`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Uuid,
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

from app.milestones.repository import late
from app.models import (
    Action,
    CashflowRollup,
    Chantier,
    ChantierActionCount,
    ChantierPriority,
    ChantierTarget,
    CommitmentRollup,
    Partner,
    Priority,
    Programme,
)
from app.models.enums import ActionStatus, CommitmentStatus
from app.reporting.statements import measures_of, sums_of

SUMMARY_BREAKDOWNS = ("programme", "priority", "chantier", "partner", "year")


def _summary_statement(*, of_programme: bool) -> Select[Any]:
    """The totals and the five breakdowns of /v1/summary in one statement, one round trip;
    `of_programme`: only the roll-up rows of the programme bound as `programme_id`, and the
    totals row's `programme_known` says whether that programme exists.

    The roll-up is summed once, by grouping sets, into (programme, chantier, year) cells and
    partner cells (`base`, a few dozen rows); the totals, programmes, chantiers, years and
    priorities are then sums of those cells, and names are joined to the few rows that come
    out. A commitment belongs to one chantier, so it counts once in each breakdown and in the
    totals (the programmes' totals add up to the grand total, to the cent); priorities go
    through the chantier_priorities link, which counts a chantier serving two priorities twice
    (as documented). Rows come ordered by breakdown, then as the aggregate endpoint orders
    them: committed descending then code, and years in order.
    """
    r = CommitmentRollup.__table__.alias("r")
    base = (
        select(
            r.c.programme_id,
            r.c.chantier_id,
            r.c.year,
            r.c.partner_id,
            *(m.label(name) for name, m in measures_of(r).items()),
        )
        .where(*_of_programme(r, of_programme))
        .group_by(
            func.grouping_sets(
                tuple_(r.c.programme_id, r.c.chantier_id, r.c.year), tuple_(r.c.partner_id)
            )
        )
        .cte("base")
    )
    by_chantier_year = base.c.partner_id.is_(None)
    grains = (
        select(
            case(
                (func.grouping(base.c.programme_id) == 0, literal("programme")),
                (func.grouping(base.c.chantier_id) == 0, literal("chantier")),
                (func.grouping(base.c.year) == 0, literal("year")),
                else_=literal("totals"),
            ).label("breakdown"),
            base.c.programme_id,
            base.c.chantier_id,
            base.c.year,
            *sums_of(base),
        )
        .where(by_chantier_year)
        .group_by(
            func.grouping_sets(
                tuple_(),
                tuple_(base.c.programme_id),
                tuple_(base.c.chantier_id),
                tuple_(base.c.year),
            )
        )
        .subquery("grains")
    )
    programme = Programme.__table__.alias("pg")
    chantier = Chantier.__table__.alias("ch")
    # In the totals row: whether the programme bound exists (a 404 needs no second round trip).
    known: ColumnElement[Any] = true()
    if of_programme:
        known = select(Programme.id).where(Programme.id == bindparam("programme_id")).exists()
    by_grain = select(
        grains.c.breakdown,
        func.coalesce(programme.c.id, chantier.c.id).label("id"),
        func.coalesce(programme.c.code, chantier.c.code).label("code"),
        func.coalesce(programme.c.name, chantier.c.name).label("name"),
        grains.c.year,
        *(grains.c[name] for name in ("planned", "committed", "disbursed", "count")),
        case((grains.c.breakdown == "totals", known)).label("programme_known"),
    ).select_from(
        grains.outerjoin(programme, programme.c.id == grains.c.programme_id).outerjoin(
            chantier, chantier.c.id == grains.c.chantier_id
        )
    )
    partner = Partner.__table__.alias("p")
    by_partner = select(
        literal("partner").label("breakdown"),
        partner.c.id,
        partner.c.code,
        partner.c.name,
        null().label("year"),
        *(base.c[name] for name in ("planned", "committed", "disbursed", "count")),
        null().label("programme_known"),
    ).select_from(base.join(partner, partner.c.id == base.c.partner_id))
    link = ChantierPriority.__table__.alias("cp")
    priority = Priority.__table__.alias("pr")
    by_priority = (
        select(
            literal("priority").label("breakdown"),
            priority.c.id,
            priority.c.code,
            priority.c.name,
            null().label("year"),
            *sums_of(base),
            null().label("programme_known"),
        )
        .select_from(
            base.outerjoin(link, link.c.chantier_id == base.c.chantier_id).outerjoin(
                priority, priority.c.id == link.c.priority_id
            )
        )
        .where(by_chantier_year)
        .group_by(priority.c.id, priority.c.code, priority.c.name)
    )
    rows = union_all(by_grain, by_partner, by_priority).subquery("s")
    return select(rows).order_by(
        rows.c.breakdown,
        case((rows.c.breakdown == "year", literal(Decimal(0))), else_=rows.c.committed).desc(),
        nulls_last(rows.c.code.asc()),
        nulls_last(rows.c.year.asc()),
    )


def _of_programme(r: FromClause, of_programme: bool) -> list[ColumnElement[bool]]:
    return [r.c.programme_id == bindparam("programme_id")] if of_programme else []


def _progress_statement(kind: str) -> Select[Any]:
    """A chantier's or a priority's (bound as `id`) progress in one statement, one round trip:
    a row per year of its programme's period, each carrying the entity and its programme
    (`id`, `code`, `name`, `programme_id`, `programme_code`, `programme_name`), the year's
    money (`planned`, `committed`, `disbursed`, null without commitments) and `target` (null
    when none is set), and the physical progress over its actions that are not cancelled
    (`weighted` = Σ progress × weight, `weight`, `actions`), and how many of its actions are
    late (`late_actions`, whatever their status). No row: no such entity.

    A priority's figures are those of the chantiers serving it, its targets theirs summed."""
    model: Any = Chantier if kind == "chantier" else Priority
    id_ = bindparam("id", type_=Uuid)
    served = select(ChantierPriority.chantier_id).where(ChantierPriority.priority_id == id_)

    def of(chantier_id: Any) -> ColumnElement[bool]:  # a column or a mapped attribute
        # A chantier's own id compared as is: the generic plan of `IN (SELECT …)` hashed
        # every action (6 ms instead of 1.7 ms at 1M commitments).
        of_it: ColumnElement[bool] = (
            chantier_id == id_ if kind == "chantier" else chantier_id.in_(served)
        )
        return of_it

    entity = (
        select(
            model.id,
            model.code,
            model.name,
            Programme.id.label("programme_id"),
            Programme.code.label("programme_code"),
            Programme.name.label("programme_name"),
            Programme.start_year,
            Programme.end_year,
        )
        .join(Programme, Programme.id == model.programme_id)
        .where(model.id == id_)
        .subquery("e")
    )
    r = CommitmentRollup.__table__.alias("r")
    money = (
        select(r.c.year, *(m.label(n) for n, m in measures_of(r).items() if n != "count"))
        .where(of(r.c.chantier_id))
        .group_by(r.c.year)
        .subquery("money")
    )
    targets = (
        select(ChantierTarget.year, func.sum(ChantierTarget.amount).label("target"))
        .where(of(ChantierTarget.chantier_id))
        .group_by(ChantierTarget.year)
        .subquery("targets")
    )
    physical = (
        select(
            func.coalesce(func.sum(Action.progress * Action.weight), 0).label("weighted"),
            func.coalesce(func.sum(Action.weight), 0).label("weight"),
            func.count().label("actions"),
        )
        .where(of(Action.chantier_id), Action.status != ActionStatus.cancelled.value)
        .subquery("physical")
    )
    # Whatever their status (app.milestones.repository.late): the open milestones' partial
    # index read, never the met or cancelled milestones.
    lateness = (
        select(func.count().label("late_actions"))
        .where(of(Action.chantier_id), late(Action.id))
        .subquery("lateness")
    )
    years = (
        func.generate_series(entity.c.start_year, entity.c.end_year)
        .table_valued("year")
        .render_derived(name="y")
        .lateral("y")
    )
    return (
        select(
            *(c for c in entity.c if c.key not in ("start_year", "end_year")),
            years.c.year,
            money.c.planned,
            money.c.committed,
            money.c.disbursed,
            targets.c.target,
            physical.c.weighted,
            physical.c.weight,
            physical.c.actions,
            lateness.c.late_actions,
        )
        .select_from(
            entity.join(years, true())
            .outerjoin(money, money.c.year == years.c.year)
            .outerjoin(targets, targets.c.year == years.c.year)
            .join(physical, true())
            .join(lateness, true())
        )
        .order_by(years.c.year)
    )


def _late_actions_statement(*, of_programme: bool) -> Select[Any]:
    """Per chantier (of every programme, or of the one bound as `programme_id`): its actions
    and how many are late; and a totals row (`id` null) from the empty grouping set, which
    comes even when there is no chantier. Late chantiers first, then by code.

    The actions are counted by the database as they are written (chantier_action_counts) and
    the late ones from the open milestones' partial index: no read of every action (at 50,000
    actions, counting them took 30 ms of a 47 ms summary)."""
    chantier = Chantier.__table__.alias("ch")
    counted = ChantierActionCount.__table__.alias("n")
    action = Action.__table__.alias("a")
    late_by_chantier = (
        select(action.c.chantier_id, func.count().label("late"))
        .where(late(action.c.id))
        .group_by(action.c.chantier_id)
        .subquery("l")
    )
    late_actions = func.coalesce(func.sum(late_by_chantier.c.late), 0).label("late_actions")
    return (
        select(
            chantier.c.id,
            chantier.c.code,
            chantier.c.name,
            func.coalesce(func.sum(counted.c.actions), 0).label("actions"),
            late_actions,
        )
        .select_from(
            chantier.outerjoin(counted, counted.c.chantier_id == chantier.c.id).outerjoin(
                late_by_chantier, late_by_chantier.c.chantier_id == chantier.c.id
            )
        )
        .where(*_of_programme(chantier, of_programme))
        .group_by(
            func.grouping_sets(tuple_(chantier.c.id, chantier.c.code, chantier.c.name), tuple_())
        )
        .order_by(chantier.c.id.is_(None), late_actions.desc(), chantier.c.code)
    )


# Constants: built once, so a request pays no statement construction.
SUMMARY = _summary_statement(of_programme=False)
PROGRAMME_SUMMARY = _summary_statement(of_programme=True)
LATE_ACTIONS = {
    programme: _late_actions_statement(of_programme=programme) for programme in (False, True)
}
"""Per chantier, late actions: of every programme (False) or of one (True)."""
PROGRESS = {kind: _progress_statement(kind) for kind in ("chantier", "priority")}


def _cashflow_years_statement(scope: str) -> Select[Any]:
    """Year → committed, scheduled, paid and remaining (at the year's end: the running
    Σ committed − paid) of the `committed` commitments of every programme (`all`), or of the
    programme, chantier, or chantiers serving the priority bound as `scope_id`; from the
    commitment and cash-flow roll-ups, in one statement."""
    cr, cf = CommitmentRollup.__table__.c, CashflowRollup.__table__.c
    zero = literal(Decimal(0))
    scope_id = bindparam("scope_id", type_=Uuid)

    def of(t: Any) -> list[ColumnElement[bool]]:
        where = [t.status == CommitmentStatus.committed.value]
        if scope == "programme":
            where.append(t.programme_id == scope_id)
        elif scope == "chantier":
            where.append(t.chantier_id == scope_id)
        elif scope == "priority":
            served = select(ChantierPriority.chantier_id).where(
                ChantierPriority.priority_id == scope_id
            )
            where.append(t.chantier_id.in_(served))
        return where

    facts = union_all(
        select(cr.year, cr.amount_sum.label("committed"), zero.label("scheduled"),
               zero.label("paid")).where(*of(cr)),
        select(cf.year, zero, cf.scheduled_sum, cf.paid_sum).where(cf.month == 0, *of(cf)),
    ).subquery("f")  # fmt: skip
    yearly = (
        select(
            facts.c.year,
            *(func.sum(facts.c[m]).label(m) for m in ("committed", "scheduled", "paid")),
        )
        .group_by(facts.c.year)
        .subquery("y")
    )
    y = yearly.c
    return select(
        yearly, func.sum(y.committed - y.paid).over(order_by=y.year).label("remaining")
    ).order_by(y.year)


CASHFLOW_YEARS = {
    scope: _cashflow_years_statement(scope)
    for scope in ("all", "programme", "chantier", "priority")
}
