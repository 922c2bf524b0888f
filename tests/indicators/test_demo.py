"""`relance demo` gives the transport chantier real-world-like indicators: baselines, targets
inside each action's years and actuals never after today nor before the action started, rolled
up by the aggregate endpoint; `--reset` removes them with the synthetic actions."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.programme.demo import demo
from tests.conftest import Session


async def _one(conn: AsyncConnection, sql: str) -> Any:
    return (await conn.execute(text(sql))).scalar_one()


async def test_demo_transport_indicators(
    sessionmaker: Session,
    settings: Settings,
    connection: AsyncConnection,
    client: httpx.AsyncClient,
) -> None:
    async with sessionmaker() as session:
        await demo(session, settings)
        await session.commit()
    codes = {i["code"] for i in (await client.get("/v1/indicators")).json()["items"]}
    assert {"TRAM_KM", "BHNS_KM", "PR_PLACES", "DAILY_PASSENGERS"} <= codes
    assert await _one(connection, "SELECT count(*) FROM action_indicators") == 5
    assert await _one(connection, "SELECT count(*) FROM indicator_actuals") > 0
    # Targets within the action's years, actuals after its start and never in the future.
    assert await _one(connection, """
        SELECT count(*) FROM indicator_targets t
        JOIN action_indicators r ON r.id = t.action_indicator_id
        JOIN actions a ON a.id = r.action_id
        WHERE t.year NOT BETWEEN extract(year FROM a.start_date) AND extract(year FROM a.end_date)
        """) == 0  # fmt: skip
    assert await _one(connection, """
        SELECT count(*) FROM indicator_actuals x
        JOIN action_indicators r ON r.id = x.action_indicator_id
        JOIN actions a ON a.id = r.action_id
        WHERE x.measured_on < a.start_date OR x.measured_on > current_date""") == 0  # fmt: skip
    cube = await client.get("/v1/aggregates/indicators", params={"by": "programme"})
    rates = [c["achievement"] for c in cube.json()["items"] if c["achievement"] is not None]
    assert rates
    assert all(0 <= float(r) <= 1 for r in rates)

    async with sessionmaker() as session:
        await demo(session, settings, reset=True)
        await session.commit()
    assert await _one(connection, "SELECT count(*) FROM action_indicators") == 5
