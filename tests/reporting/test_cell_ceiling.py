"""The cell ceiling: a drilldown grouping into more than AGGREGATES__MAX_CELLS cells is a 400
naming `drilldown` and the limit, in JSON and in CSV, whatever the page; at the limit it is
answered whole."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import AggregateSettings, Settings
from app.main import attach_database, create_app
from tests.conftest import assert_problem
from tests.factories import make_action, make_commitment

AGGREGATES = "/v1/aggregates/commitments"
CSV = "/v1/aggregates/commitments.csv"


@pytest.fixture
async def four_years(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Four commitments of one action, one a year: `drilldown=year` groups into four cells."""
    action = await make_action(client, admin)
    for year in (2021, 2022, 2023, 2024):
        await make_commitment(client, admin, action_id=action["id"], year=year)


def _client(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    max_cells: int,
) -> httpx.AsyncClient:
    limited = settings.model_copy(update={"aggregates": AggregateSettings(max_cells=max_cells)})
    app: FastAPI = create_app(limited)
    attach_database(app, engine, sessionmaker)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.usefixtures("four_years")
@pytest.mark.parametrize(
    ("path", "params"),
    [
        (AGGREGATES, {"drilldown": "year"}),
        # the grouping is refused, not just the page
        (AGGREGATES, {"drilldown": "year", "page_size": "1"}),
        (AGGREGATES, {"drilldown": "year", "page": "9", "page_size": "1"}),  # past the end too
        (CSV, {"drilldown": "year"}),
        (CSV, {"drilldown": "action,year", "page_size": "2"}),
    ],
)
async def test_a_drilldown_over_the_ceiling_is_400_naming_drilldown_and_the_limit(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str,
    params: dict[str, str],
) -> None:
    async with _client(settings, engine, sessionmaker, max_cells=3) as client:
        refused = await client.get(path, params=params)
    body = assert_problem(refused, 400, "TOO_MANY_CELLS")
    assert body["errors"] == [
        {
            "parameter": "drilldown",
            "detail": "groups into more than 3 cells, the limit (AGGREGATES__MAX_CELLS); "
            "drill down by fewer dimensions or cut (filter) the commitments",
        }
    ]
    assert "more than 3 cells" in body["detail"]


@pytest.mark.usefixtures("four_years")
async def test_at_the_ceiling_or_cut_below_it_the_cells_are_answered(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with _client(settings, engine, sessionmaker, max_cells=4) as client:
        whole = await client.get(AGGREGATES, params={"drilldown": "year"})
        csv = await client.get(CSV, params={"drilldown": "year"})
    assert whole.status_code == 200, whole.text
    assert [c["year"] for c in whole.json()["cells"]] == [2021, 2022, 2023, 2024]
    assert whole.json()["total_cell_count"] == 4
    assert csv.status_code == 200, csv.text
    assert len(csv.text.splitlines()) == 2 + 4  # sep=; and the header, then the cells
    assert int(csv.headers["content-length"]) == len(csv.content)
    async with _client(settings, engine, sessionmaker, max_cells=3) as client:
        cut = await client.get(AGGREGATES, params={"drilldown": "year", "year_from": "2022"})
    assert cut.status_code == 200, cut.text
    assert cut.json()["total_cell_count"] == 3
