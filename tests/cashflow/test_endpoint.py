"""GET /v1/aggregates/cashflow around the measures: CSV, the cell ceiling, the heavy-request
limit, bad parameters (400/422 naming them), ordering and paging, the month axis's yearly
measures on January."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.config import AggregateSettings, Settings
from app.main import attach_database, create_app
from app.ratelimit.concurrency import HeavyRequestLimitMiddleware
from tests.cashflow.world import World
from tests.conftest import assert_problem, pointers

CASHFLOW = "/v1/aggregates/cashflow"
CASHFLOW_CSV = "/v1/aggregates/cashflow.csv"


@pytest.fixture
async def world(connection: AsyncConnection) -> World:
    world = World(connection, seed=31)
    await world.setup(actions=4)
    for _ in range(30):
        await world.step()
    return world


async def _json(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(CASHFLOW, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.usefixtures("world")
async def test_csv_has_the_json_cells_with_decimal_commas_on_request(
    client: httpx.AsyncClient,
) -> None:
    cells = (await _json(client, drilldown="partner", page_size=10000))["cells"]
    response = await client.get(CASHFLOW_CSV, params={"drilldown": "partner", "decimal": "comma"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "sep=;"
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:])), delimiter=";"))
    assert rows[0] == ["partner_id", "partner_code", "partner_name", "year",
                       "committed", "scheduled", "paid", "remaining"]  # fmt: skip
    assert len(rows) - 1 == len(cells)
    expected = sorted(
        [c["partner"]["id"], str(c["year"]), c["committed"].replace(".", ","),
         c["remaining"].replace(".", ",")]
        for c in cells
    )  # fmt: skip
    assert sorted([r[0], r[3], r[4], r[7]] for r in rows[1:]) == expected


@pytest.mark.usefixtures("world")
async def test_month_axis_puts_yearly_measures_on_january_and_adds_up_to_the_years(
    client: httpx.AsyncClient,
) -> None:
    years = {c["year"]: c for c in (await _json(client, page_size=10000))["cells"]}
    months = (await _json(client, axis="month", page_size=10000))["cells"]
    assert {c["month"][:4] for c in months} == {f"{y:04d}" for y in years}
    for cell in months:
        if not cell["month"].endswith("-01"):
            assert (cell["committed"], cell["scheduled"]) == ("0.00", "0.00")
    for year, cell in years.items():
        # the year's last month (December, or the last month with a figure of the last year)
        last = max((m for m in months if m["year"] == year), key=lambda m: m["month"])
        assert last["remaining"] == cell["remaining"]
        paid = sum(float(m["paid"]) for m in months if m["year"] == year)
        assert round(paid, 2) == float(cell["paid"])


@pytest.mark.usefixtures("world")
async def test_order_and_pages_cover_every_cell_once(client: httpx.AsyncClient) -> None:
    whole = await _json(client, drilldown="chantier", order="-paid,year", page_size=10000)
    paid = [float(c["paid"]) for c in whole["cells"]]
    assert paid == sorted(paid, reverse=True)
    pages = [
        await _json(client, drilldown="chantier", order="-paid,year", page=p, page_size=3)
        for p in range(1, whole["total_cell_count"] // 3 + 2)
    ]
    assert [c for page in pages for c in page["cells"]] == whole["cells"]
    assert all(page["total_cell_count"] == whole["total_cell_count"] for page in pages)


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"drilldown": "planet"}, 400, "drilldown"),
        ({"order": "-disbursed"}, 400, "order"),  # a commitments cube measure, not this one
        ({"order": "partner"}, 400, "order"),  # not in the drilldown
        ({"axis": "week"}, 400, "axis"),
        ({"as_of": "1800"}, 400, "as_of"),
        ({"partner": "NOBODY"}, 400, "partner"),
        ({"colour": "red"}, 400, "colour"),
    ],
)
async def test_bad_parameters_are_refused_naming_them(
    client: httpx.AsyncClient, params: dict[str, str], status: int, parameter: str
) -> None:
    body = assert_problem(await client.get(CASHFLOW, params=params), status)
    assert parameter in pointers(body), body


@pytest.mark.usefixtures("world")
async def test_over_the_cell_ceiling_is_400_too_many_cells_in_json_and_csv(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    limited = settings.model_copy(update={"aggregates": AggregateSettings(max_cells=2)})
    app: FastAPI = create_app(limited)
    attach_database(app, engine, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in (CASHFLOW, CASHFLOW_CSV):
            refused = await client.get(path, params={"drilldown": "partner"})
            body = assert_problem(refused, 400, "TOO_MANY_CELLS")
            assert pointers(body) == ["drilldown"]


@pytest.mark.parametrize("path", [CASHFLOW, CASHFLOW_CSV])
async def test_territories_above_the_commune_are_refused_by_name(
    client: httpx.AsyncClient, path: str
) -> None:
    for params, named in (
        ({"drilldown": "epci"}, ["drilldown"]),
        ({"epci": "200054807", "departement": "13"}, ["epci", "departement"]),
    ):
        body = assert_problem(await client.get(path, params=params), 400)
        assert pointers(body) == named


@pytest.mark.usefixtures("world")
async def test_the_json_operation_answers_json_only_and_names_the_csv_one(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.get(CASHFLOW, headers={"Accept": "text/csv"})
    assert "/v1/aggregates/cashflow.csv" in assert_problem(refused, 406, "NOT_ACCEPTABLE")["detail"]
    answer = await client.get(CASHFLOW, headers={"Accept": "text/csv, application/json;q=0.1"})
    assert answer.headers["content-type"] == "application/json"


def test_the_cashflow_route_is_a_heavy_request(app: FastAPI) -> None:
    factory: Any = HeavyRequestLimitMiddleware
    (limit,) = [m for m in app.user_middleware if m.cls is factory]
    kwargs: dict[str, Any] = dict(limit.kwargs)
    middleware = HeavyRequestLimitMiddleware(app, **kwargs)
    assert middleware.is_heavy(CASHFLOW)
    assert middleware.is_heavy(CASHFLOW_CSV)
    assert not middleware.is_heavy("/v1/commitments")
