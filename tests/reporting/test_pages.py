"""Pages of cells: in order they add up to the whole answer, and every page (past the end too)
carries the same cell count, summary and overlap flag, all from the one statement of a page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem
from tests.reporting.test_aggregates import build

AGGREGATES = "/v1/aggregates/commitments"


@pytest.fixture
async def dataset(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> dict[str, Any]:
    return await build(client, admin, connection)


@pytest.mark.parametrize(
    "query",
    [
        "drilldown=priority,year&order=-committed",  # overlapping: totals summed apart
        "drilldown=chantier,partner&order=execution_rate,-count",
        "drilldown=commune,status&year_from=2021",  # overlapping, over commitments
        "drilldown=partner_kind,instrument,year&status=committed&status=planned",
    ],
)
async def test_pages_add_up_to_the_whole_answer_and_past_the_end_keeps_the_counts(
    client: httpx.AsyncClient, dataset: dict[str, Any], query: str
) -> None:
    whole = (await client.get(f"{AGGREGATES}?{query}&page_size=10000")).json()
    cells = whole["total_cell_count"]
    assert cells == len(whole["cells"]) > 3
    size = 3
    paged: list[dict[str, Any]] = []
    for page in range(1, (cells + size - 1) // size + 2):  # one page past the end
        body = (await client.get(f"{AGGREGATES}?{query}&page_size={size}&page={page}")).json()
        assert body["total_cell_count"] == cells, (query, page)
        assert body["summary"] == whole["summary"], (query, page)
        assert body["overlapping"] is whole["overlapping"], (query, page)
        assert (body["page"], body["page_size"]) == (page, size)
        paged += body["cells"]
    assert paged == whole["cells"]


async def test_totals_without_drilldown_are_the_summary_of_every_drilldown(
    client: httpx.AsyncClient, dataset: dict[str, Any]
) -> None:
    alone = (await client.get(f"{AGGREGATES}?year=2022&year=2024")).json()
    assert alone["cells"] == []
    assert alone["total_cell_count"] == 0
    for drilldown in ("chantier", "priority", "commune", "action,partner_kind"):
        body = (await client.get(f"{AGGREGATES}?drilldown={drilldown}&year=2022&year=2024")).json()
        assert body["summary"] == alone["summary"], drilldown


async def test_summary_of_an_unknown_programme_is_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = await client.get(f"/v1/programmes/{missing}/summary")
    assert_problem(response, 404, "NOT_FOUND")
