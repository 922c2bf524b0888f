"""How a cash-flow request reaches the database: one statement for the page of cells, their
count and the summary (plus one resolving the filters' codes), its text the same whatever the
filters' values (so that the prepared statement is reused); and the month axis under a year
filter, which reads only the years shown month by month, gives the same cells as the whole
month axis restricted to those years."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.cashflow.world import World

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
CASHFLOW = "/v1/aggregates/cashflow"


@pytest.fixture
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """The statements the requests run, over the test's connection, savepoints left out."""
    ran: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(SAVEPOINTS):
            ran.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    yield ran
    event.remove(connection.sync_connection, "before_cursor_execute", record)


async def _ran(client: httpx.AsyncClient, statements: list[str], path: str) -> list[str]:
    statements.clear()
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return list(statements)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CASHFLOW, 1),
        (f"{CASHFLOW}?drilldown=chantier", 1),
        (f"{CASHFLOW}?drilldown=programme,partner&page=2&page_size=3", 1),
        (f"{CASHFLOW}?drilldown=priority&year_from=2022", 1),
        (f"{CASHFLOW}?drilldown=partner_kind&axis=month&year=2024", 1),
        (f"{CASHFLOW}?drilldown=commune&commune=13055", 1),
        (f"{CASHFLOW}?drilldown=chantier&programme=AMP-RR-2020-2026&as_of=2026", 2),
        (f"{CASHFLOW}?drilldown=year&priority=TRANSITION&partner=BDT&page=99", 2),
    ],
)
async def test_a_cashflow_request_is_one_statement_and_one_to_resolve_codes(
    client: httpx.AsyncClient, statements: list[str], path: str, expected: int
) -> None:
    ran = await _ran(client, statements, path)
    assert len(ran) == expected, ran


async def test_the_statement_text_depends_on_the_filters_set_not_their_values(
    client: httpx.AsyncClient, statements: list[str]
) -> None:
    def cube(ran: list[str]) -> str:
        return ran[-1]  # after the one resolving codes

    one = await _ran(
        client, statements, f"{CASHFLOW}?drilldown=priority&partner=BDT&year=2024&as_of=2025"
    )
    other = await _ran(
        client,
        statements,
        f"{CASHFLOW}?drilldown=priority&partner=BDT&partner=AMP&year=2022&year=2023"
        "&as_of=2030&page=2&page_size=7",
    )
    assert cube(one) == cube(other)
    fewer = await _ran(client, statements, f"{CASHFLOW}?drilldown=priority&year=2024")
    assert cube(fewer) != cube(one)


async def test_the_month_axis_under_years_is_the_whole_month_axis_restricted_to_them(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    world = World(connection, seed=1212)
    await world.setup(actions=6)
    for _ in range(50):
        await world.step()
    for drilldown in ("", "chantier", "partner_kind,status", "priority", "programme,partner"):
        params: dict[str, Any] = {"axis": "month", "page_size": 10000, "as_of": 2025}
        if drilldown:
            params["drilldown"] = drilldown
        whole = (await client.get(CASHFLOW, params=params)).json()
        paid = sorted({c["year"] for c in whole["cells"] if c["paid"] != "0.00"})
        assert len(paid) >= 3, paid  # payments over several years
        cuts = ({"year": paid[1]}, {"year": [paid[0], paid[-1]]}, {"year_from": paid[-2]})
        for cut in cuts:
            body = (await client.get(CASHFLOW, params=params | cut)).json()
            shown = cut.get("year", [])
            wanted = [
                c
                for c in whole["cells"]
                if c["year"] in (shown if isinstance(shown, list) else [shown])
                or ("year_from" in cut and c["year"] >= cut["year_from"])
            ]
            assert body["cells"] == wanted, (drilldown, cut)
            assert body["total_cell_count"] == len(wanted)
            assert any(c["paid"] != "0.00" for c in body["cells"]), (drilldown, cut)
            assert body["summary"]["remaining"] == whole["summary"]["remaining"]


async def _overlapping(client: httpx.AsyncClient, drilldown: str, axis: str) -> bool:
    params = {"drilldown": drilldown, "axis": axis} if drilldown else {"axis": axis}
    response = await client.get(CASHFLOW, params=params)
    assert response.status_code == 200, response.text
    overlapping: bool = response.json()["overlapping"]
    return overlapping


async def test_overlapping_says_whether_a_fact_is_in_several_cells(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    world = World(connection, seed=7, tag="O")
    await world.setup(actions=6)
    for _ in range(20):
        await world.step()
    drilldowns = ("", "chantier", "priority", "priority,partner", "partner_kind")
    for drilldown in drilldowns:  # the seed's chantiers serve one priority each, at most
        for axis in ("year", "month"):
            assert await _overlapping(client, drilldown, axis) is False, (drilldown, axis)
    # A chantier with committed money comes to serve a second priority of its programme.
    added = await connection.execute(
        text(
            "INSERT INTO chantier_priorities (chantier_id, priority_id)"
            " SELECT ch.id, p.id FROM chantiers ch JOIN priorities p"
            " ON p.programme_id = ch.programme_id"
            " WHERE ch.id IN (SELECT a.chantier_id FROM commitments c"
            "   JOIN actions a ON a.id = c.action_id WHERE c.status = 'committed')"
            " AND ch.id IN (SELECT chantier_id FROM chantier_priorities)"
            " AND NOT EXISTS (SELECT FROM chantier_priorities cp"
            "   WHERE cp.chantier_id = ch.id AND cp.priority_id = p.id)"
            " ORDER BY ch.code, p.code LIMIT 1"
        )
    )
    assert added.rowcount == 1
    for drilldown in drilldowns:
        for axis in ("year", "month"):
            expected = drilldown.startswith("priority")
            assert await _overlapping(client, drilldown, axis) is expected, (drilldown, axis)


async def test_a_page_past_the_end_has_no_cells_but_the_counts_and_the_summary(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    world = World(connection, seed=99, tag="E")
    await world.setup(actions=4)
    for _ in range(10):
        await world.step()
    for drilldown in ("chantier", "priority", "action"):
        params = {"drilldown": drilldown, "as_of": 2025, "page_size": 2}
        first = (await client.get(CASHFLOW, params=params)).json()
        assert first["total_cell_count"] > 2
        past = (await client.get(CASHFLOW, params=params | {"page": 500})).json()
        assert past["cells"] == []
        assert past["total_cell_count"] == first["total_cell_count"]
        assert past["summary"] == first["summary"]
        assert past["overlapping"] == first["overlapping"]
