"""The aggregate statements are built once per shape: their SQL text depends on which filters
are set, never on their values or how many there are, so that PostgreSQL's prepared statements
(asyncpg's cache, per connection) serve every request of that shape."""

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
