"""How PostgreSQL runs a drilldown's page, from EXPLAIN's output (never from timings), on
enough cells that the planner's choices are those of a large programme's: only the page's
rows are kept in order (no numbering of every cell), and a drilldown that reads no column of
the actions does not join them per commitment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from app.cashflow.statements import CashflowQuery, cube_params, cube_statement
from app.reporting.statements import CellQuery, Cut, OrderKey, page_params, page_statement
from devtools.lateness import plan_of, sql_of
from devtools.scratch import plain

CELLS = 400

# CELLS actions in the seed's first chantier, two commitments each in 2024.
LOAD = f"""
WITH made AS (
  INSERT INTO actions (code, chantier_id, title, version)
  SELECT 'PAGE-' || g, (SELECT id FROM chantiers ORDER BY number LIMIT 1), 'Action ' || g, 1
  FROM generate_series(1, {CELLS}) AS g
  RETURNING id
)
INSERT INTO commitments (action_id, partner_id, year, amount, status, instrument, version)
SELECT m.id, (SELECT id FROM partners ORDER BY code LIMIT 1), 2024, 1000 + k, 'committed',
       'grant', 1
FROM made m CROSS JOIN generate_series(1, 2) AS k
"""


def _pages(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Limit nodes keeping a page (those whose input is sorted or numbered)."""
    return [
        n
        for n in nodes
        if n["Node Type"] == "Limit"
        and "Subplan Name" not in n  # a CTE's cell ceiling
        and any(c["Node Type"] in ("Sort", "WindowAgg", "Incremental Sort") for c in n["Plans"])
    ]


@asynccontextmanager
async def _loaded(database: str, load: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to `database` once `load` ran and the tables were analysed (and their
    visibility maps set, as autovacuum leaves them)."""
    connection = await asyncpg.connect(plain(database))
    try:
        await connection.execute(load)
        await connection.execute("VACUUM ANALYZE")
        yield connection
    finally:
        await connection.close()


async def test_a_page_sorts_only_its_rows_and_an_action_drilldown_joins_no_action_per_row(
    own_database: str,
) -> None:
    async with _loaded(own_database, LOAD) as connection:
        order = (OrderKey("committed", descending=True),)
        cell_queries = {
            "drilldown=action&year=2024": CellQuery(
                ("action",), Cut(year=(2024,)), (), 50, 0, 50_000
            ),
            "drilldown=action,year&order=-committed": CellQuery(
                ("action", "year"), Cut(), order, 50, 50, 50_000
            ),
        }
        for name, query in cell_queries.items():
            nodes = await plan_of(connection, sql_of(page_statement(query), **page_params(query)))
            shown = json.dumps(nodes[0], indent=1)
            assert not [n for n in nodes if n["Node Type"] == "WindowAgg"], (name, shown)
            pages = _pages(nodes)
            assert len(pages) == 1, (name, shown)
            assert pages[0]["Plans"][0]["Node Type"] == "Sort", (name, shown)
            actions = [n for n in nodes if n.get("Relation Name") == "actions"]
            assert len(actions) == 1, (name, shown)  # the page's names, not every commitment's
        cashflow = CashflowQuery(("action",), Cut(), "year", (), 50, 0, 50_000)
        nodes = await plan_of(
            connection, sql_of(cube_statement(cashflow), **cube_params(cashflow, 2024))
        )
        shown = json.dumps(nodes[0], indent=1)
        pages = _pages(nodes)  # its yearly running sums are windows: the page's sort is not
        assert len(pages) == 1, shown
        assert pages[0]["Plans"][0]["Node Type"] == "Sort", shown
        actions = [n for n in nodes if n.get("Relation Name") == "actions"]
        assert len(actions) == 1, shown


# 2,000 actions over ten communes, five commitments each over the seed programme's years,
# partners and instruments: the territorial roll-up's commune level holds every year's rows.
TERRITORIAL_LOAD = """
WITH made AS (
  INSERT INTO actions (code, chantier_id, title, communes, version)
  SELECT 'PLACE-' || g, (SELECT id FROM chantiers ORDER BY number LIMIT 1), 'Action ' || g,
         ARRAY[(ARRAY['13055','13001','13056','13005','13028','13047','13103','13117','13054',
                      '13041'])[1 + g % 10]], 1
  FROM generate_series(1, 2000) AS g
  RETURNING id, split_part(code, '-', 2)::int AS n
)
INSERT INTO commitments (action_id, partner_id, year, amount, status, instrument, version)
SELECT m.id, p.ids[1 + (k + m.n) % cardinality(p.ids)], 2020 + (k + m.n) % 7,
       100 + k, (ARRAY['planned', 'committed'])[1 + k % 2],
       (ARRAY['grant', 'loan', 'equity'])[1 + k % 3], 1
FROM made m CROSS JOIN generate_series(1, 5) AS k,
     (SELECT array_agg(id ORDER BY code) AS ids FROM partners) AS p
"""


async def test_a_territorial_drilldown_reads_its_level_and_years_from_the_key_alone(
    own_database: str,
) -> None:
    async with _loaded(own_database, TERRITORIAL_LOAD) as connection:
        query = CellQuery(("commune",), Cut(year=(2024,)), (), 50, 0, 50_000)
        nodes = await plan_of(connection, sql_of(page_statement(query), **page_params(query)))
        shown = json.dumps(nodes[0], indent=1)
        reads = [n for n in nodes if n.get("Relation Name") == "territorial_rollups"]
        assert [n["Node Type"] for n in reads] == ["Index Only Scan"], shown
        assert reads[0]["Index Name"] == "territorial_rollups_pkey", shown
