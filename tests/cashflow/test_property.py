"""Property-style: random commitments, schedule revisions and payments, some written by
concurrent transactions that commit for real; after every step the cash-flow cube, chantier and
priority progress and /v1/summary equal an independent computation over the base tables, to
the cent, and the roll-up equals its GROUP BY."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.cashflow import oracle
from tests.cashflow.world import World, rollup_differences

ZERO = Decimal(0)


def yearly(base: oracle.Base, keep: Any) -> dict[int, list[Decimal]]:
    """Year → [committed, scheduled, paid, remaining] over the committed commitments kept."""
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for fact in base.facts:
        c = base.commitments[fact["commitment"]]
        if c["status"] != "committed" or not keep(c, base.actions[c["action_id"]]):
            continue
        figures = sums[fact["year"]]
        figures[0] += fact["committed"]
        figures[1] += fact["scheduled"]
        figures[2] += fact["paid"]
    out: dict[int, list[Decimal]] = {}
    remaining = ZERO
    for year in sorted(sums):
        committed, scheduled, paid = sums[year]
        remaining += committed - paid
        out[year] = [committed, scheduled, paid, remaining]
    return out


def at(figures: dict[int, list[Decimal]], year: int) -> list[str]:
    """scheduled, paid, remaining of a year (remaining carried over a year without figures)."""
    if year in figures:
        return [oracle.money(v) for v in figures[year][1:]]
    before = [y for y in figures if y < year]
    remaining = figures[max(before)][3] if before else ZERO
    return ["0.00", "0.00", oracle.money(remaining)]


async def check_everything(client: httpx.AsyncClient, conn: AsyncConnection) -> None:
    assert await rollup_differences(conn) == []
    base = await oracle.load(conn)
    for drilldown in ([], ["chantier"], ["priority", "partner"], ["commune"]):
        body = (
            await client.get(
                "/v1/aggregates/cashflow",
                params={"drilldown": ",".join(drilldown), "page_size": 10000, "as_of": 2024},
            )
        ).json()
        assert oracle.api_cells(body, drilldown) == oracle.cells(base, drilldown, {}, "year")
        assert body["summary"] == oracle.summary(base, {}, 2024)
    for chantier in {a["chantier_id"] for a in base.actions.values()}:
        progress = (await client.get(f"/v1/chantiers/{chantier}/progress")).json()
        figures = yearly(base, lambda c, a, ch=chantier: a["chantier_id"] == ch)
        for year in progress["years"]:
            got = [year["scheduled"], year["paid"], year["remaining"]]
            assert got == at(figures, year["year"]), (chantier, year["year"])
    for priority in {p for ps in base.priorities_of.values() for p in ps}:
        progress = (await client.get(f"/v1/priorities/{priority}/progress")).json()
        served = {ch for ch, ps in base.priorities_of.items() if priority in ps}
        figures = yearly(base, lambda c, a, s=served: a["chantier_id"] in s)
        for year in progress["years"]:
            got = [year["scheduled"], year["paid"], year["remaining"]]
            assert got == at(figures, year["year"]), (priority, year["year"])
    summary = (await client.get("/v1/summary")).json()
    figures = yearly(base, lambda c, a: True)
    assert summary["cashflow_by_year"] == [
        {"year": y, **dict(zip(("committed", "scheduled", "paid", "remaining"),
                               (oracle.money(v) for v in f), strict=True))}
        for y, f in figures.items()
    ]  # fmt: skip
    for programme in {a["programme_id"] for a in base.actions.values()}:
        one = (await client.get(f"/v1/programmes/{programme}/summary")).json()
        figures = yearly(base, lambda c, a, p=programme: a["programme_id"] == p)
        assert [r["year"] for r in one["cashflow_by_year"]] == list(figures)
        assert [r["remaining"] for r in one["cashflow_by_year"]] == [
            oracle.money(f[3]) for f in figures.values()
        ]


async def test_every_measure_equals_the_oracle_after_every_step(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    world = World(connection, seed=77)
    await world.setup(actions=6)
    for _ in range(40):
        await world.step()
        await check_everything(client, connection)


async def _round(engine: AsyncEngine, world_seed: int, tag: str, steps: int) -> int:
    """A writer: `steps` random writes in one transaction, committed; retried from scratch when
    PostgreSQL picks it as a deadlock victim. Returns the retries."""
    retries = 0
    while True:
        try:
            async with engine.connect() as conn, conn.begin():
                world = World(conn, world_seed + retries, tag)
                await world.setup(actions=0)
                for _ in range(steps):
                    await world.step()
            return retries
        except DBAPIError as error:
            if "deadlock" not in str(error):
                raise
            retries += 1


async def test_concurrent_writers_keep_every_measure_exact(
    engine: AsyncEngine, live_client: httpx.AsyncClient
) -> None:
    for tag in ("CA", "CB", "CC"):
        async with engine.connect() as conn, conn.begin():
            await World(conn, len(tag), tag).setup(actions=4)
    for round_ in range(6):
        await asyncio.gather(
            *(_round(engine, 100 * round_ + i, tag, 8) for i, tag in enumerate(("CA", "CB", "CC")))
        )
        async with engine.connect() as conn:
            await check_everything(live_client, conn)
