"""The aggregate statements are built once per shape: their SQL text depends on which filters
are set, never on their values or how many there are (but for territories: one or several read
different sources), so that PostgreSQL's prepared statements (asyncpg's cache, per connection)
serve every request of that shape."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement

from app.reporting.statements import (
    CellQuery,
    Cut,
    OrderKey,
    cells_statement,
    page_params,
    page_statement,
    totals_statement,
)
from app.reporting.summaries import PROGRESS

DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


def _sql(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT))


def test_statement_text_depends_on_which_filters_are_set_not_on_their_values() -> None:
    few = Cut(year=(2021,), chantier=(uuid.uuid4(),), status=("committed",))
    many = Cut(year=(2021, 2022, 2023), chantier=(uuid.uuid4(), uuid.uuid4()), status=("a", "b"))
    order = (OrderKey("committed", descending=True),)
    first = CellQuery(("priority", "year"), few, order, 100, 0, 50_000)
    second = CellQuery(("priority", "year"), many, order, 50, 200, 50_000)
    assert page_statement(first) is page_statement(second)  # built once
    assert _sql(cells_statement(first)) == _sql(cells_statement(second))
    assert _sql(totals_statement(few)) == _sql(totals_statement(many))
    assert " IN (" not in _sql(page_statement(first))  # no list rendered into the text
    assert page_params(second)["cut_year"] == [2021, 2022, 2023]
    assert (page_params(second)["page_limit"], page_params(second)["page_offset"]) == (50, 200)
    other = CellQuery(("priority", "year"), Cut(year=(2021,)), order, 100, 0, 50_000)
    assert _sql(page_statement(other)) != _sql(page_statement(first))


def _reads(statement: ClauseElement) -> set[str]:
    sql = _sql(statement)
    assert "POSTCOMPILE" not in sql  # no list bound at execution: one text, prepared once
    tables = ("commitment_rollups", "territorial_rollups", "commitments")
    return {table for table in tables if f"FROM {table} " in sql or f"JOIN {table} " in sql}


def test_one_territorial_level_is_read_from_the_territorial_roll_up() -> None:
    """Drilldowns and filters naming one territorial level, one territory of it at most, and
    no action, read the territorial roll-up; the totals of a drilldown by territories, the
    commitment roll-up."""
    place = ("13055",)
    for drilldown, cut in [
        (("commune",), Cut()),
        (("epci", "year"), Cut(year=(2024,))),
        (("departement",), Cut(departement=("13",))),
        (("chantier",), Cut(commune=place)),
        (("priority", "commune"), Cut(priority=(uuid.uuid4(),))),
        (("commune", "partner"), Cut(commune=place, status=("committed",))),
    ]:
        reads = _reads(page_statement(CellQuery(drilldown, cut, (), 50, 0, 50_000)))
        assert "commitments" not in reads, (drilldown, cut)
        assert "territorial_rollups" in reads, (drilldown, cut)
    totals = _reads(page_statement(CellQuery(("commune",), Cut(year=(2024,)), (), 50, 0, 50_000)))
    assert totals == {"territorial_rollups", "commitment_rollups"}
    assert "FROM territorial_rollups" in _sql(totals_statement(Cut(epci=("200054807",))))


def test_what_the_territorial_roll_up_cannot_count_is_read_from_the_commitments() -> None:
    """Two levels at once, several territories in a filter (a commitment placed in two of them
    counts once in the totals), or actions: the cells are summed over the commitments."""
    for drilldown, cut in [
        (("commune", "epci"), Cut()),
        (("epci",), Cut(commune=("13055",))),
        (("commune",), Cut(commune=("13055", "13001"))),
        (("chantier",), Cut(departement=("13", "83"))),
        (("action", "commune"), Cut()),
        (("commune",), Cut(action=(uuid.uuid4(),))),
    ]:
        reads = _reads(cells_statement(CellQuery(drilldown, cut, (), 50, 0, 50_000)))
        assert "commitments" in reads, (drilldown, cut)
        assert "territorial_rollups" not in reads, (drilldown, cut)


def test_the_cell_ceiling_is_a_constant_of_the_statement() -> None:
    """A parameter's LIMIT is unknown to the generic plan of a prepared statement, which then
    expects a few rows and picks a nested loop over the roll-up."""
    query = CellQuery(("chantier",), Cut(), (), 100, 0, 50_000)
    assert "LIMIT 50001" in _sql(page_statement(query))
    assert "LIMIT 50001" in _sql(cells_statement(query))


def test_a_chantiers_progress_compares_its_id_as_is() -> None:
    """Through `chantier_id IN (SELECT …)` the generic plan of the prepared statement hashed
    every action of every chantier; compared to the parameter it uses the chantier's index."""
    sql = _sql(PROGRESS["chantier"])
    assert "chantier_id IN (SELECT" not in sql  # lateness: `actions.id IN`, over milestones
    for compared in ("r.chantier_id", "chantier_targets.chantier_id", "actions.chantier_id"):
        assert f"{compared} = $1::UUID" in sql
