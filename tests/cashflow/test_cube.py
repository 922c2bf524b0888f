"""GET /v1/aggregates/cashflow: every measure of every drilldown, with and without filters, by
year and by month, against an independent computation over the base tables, to the cent,
after random commitments, schedule revisions and payments."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.cashflow import oracle
from tests.cashflow.world import World

DRILLDOWNS = [
    [], ["chantier"], ["priority"], ["partner", "instrument"], ["programme"],
    ["partner_kind", "status"], ["action"], ["commune"], ["priority", "commune"],
]  # fmt: skip


async def _get(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
    response = await client.get("/v1/aggregates/cashflow", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def check(
    client: httpx.AsyncClient, conn: AsyncConnection, cuts: list[dict[str, list[Any]]]
) -> int:
    """Every drilldown under every cut, year and month axes (a few), cells and summary."""
    base = await oracle.load(conn)
    checked = 0
    for cut in cuts:
        for i, drilldown in enumerate(DRILLDOWNS):
            for axis in ("year", "month") if i % 3 == 0 else ("year",):
                params: dict[str, Any] = {"drilldown": ",".join(drilldown), "axis": axis,
                                          "page_size": 10000, "as_of": 2025, **cut}  # fmt: skip
                body = await _get(client, params)
                expected = oracle.cells(base, drilldown, cut, axis)
                assert oracle.api_cells(body, drilldown) == expected, (drilldown, cut, axis)
                assert body["total_cell_count"] == len(expected)
                assert body["summary"] == oracle.summary(base, cut, 2025), (cut, axis)
                checked += 1
    return checked


async def test_cube_equals_the_oracle_after_random_writes(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    world = World(connection, seed=2026)
    await world.setup(actions=8)
    for _ in range(60):
        await world.step()
    some = await oracle.load(connection)
    partner = next(iter(some.partners))
    priority = next(iter(sorted({p for ps in some.priorities_of.values() for p in ps})))
    cuts: list[dict[str, list[Any]]] = [
        {},
        {"year_from": [2023]},
        {"year": [2022, 2025], "partner": [partner]},
        {"priority": [priority]},
        {"commune": ["13055"]},
    ]
    assert await check(client, connection, cuts) > 40
    whole = await _get(client, {"drilldown": "chantier", "as_of": 2025, "page_size": 10000})
    assert any(c["paid"] != "0.00" for c in whole["cells"])
    assert any(c["remaining"] != c["committed"] for c in whole["cells"])
    ratios = [
        (await _get(client, {"as_of": year}))["summary"]["coverage_ratio"]
        for year in range(2020, 2032)
    ]
    assert any(ratio is not None for ratio in ratios)
    for _ in range(30):
        await world.step()
    await check(client, connection, [{}, {"year_to": [2024]}])
