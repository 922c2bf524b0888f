"""Reference data: the seed loads the programme once and changes nothing when run again."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.config import Settings
from app.programme.demo import demo
from app.programme.service import seed

Session = async_sessionmaker[AsyncSession]

SNAPSHOT = """
SELECT (SELECT json_agg(p ORDER BY code) FROM priorities p)::text,
       (SELECT json_agg(c ORDER BY number) FROM chantiers c)::text,
       (SELECT json_agg(t ORDER BY chantier_id, year) FROM chantier_targets t)::text,
       (SELECT json_agg(l ORDER BY chantier_id, priority_id) FROM chantier_priorities l)::text,
       (SELECT json_agg(x ORDER BY code) FROM partners x)::text
"""


async def test_seed_twice_changes_nothing(
    sessionmaker: Session, settings: Settings, connection: AsyncConnection
) -> None:
    before = (await connection.execute(text(SNAPSHOT))).one()
    async with sessionmaker() as session:
        report = await seed(session, settings)
        await session.commit()
    assert not report.created
    assert not report.updated
    assert (await connection.execute(text(SNAPSHOT))).one() == before


async def test_seed_restores_a_changed_name(
    sessionmaker: Session, settings: Settings, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    chantier = (await client.get("/v1/chantiers", params={"number": 1})).json()["items"][0]
    await client.patch(f"/v1/chantiers/{chantier['id']}", json={"name": "renamed"}, headers=admin)
    async with sessionmaker() as session:
        report = await seed(session, settings)
        await session.commit()
    assert report.updated == ["chantier SECTEURS_TOUCHES"]
    again = (await client.get(f"/v1/chantiers/{chantier['id']}")).json()
    assert again["name"].startswith("Soutenir les secteurs économiques")


async def test_reference_data_matches_the_press_release(client: httpx.AsyncClient) -> None:
    priorities = (await client.get("/v1/priorities")).json()["items"]
    assert [p["code"] for p in priorities] == ["EMPLOI", "INCLUSION", "TRANSITION"]
    chantiers = (await client.get("/v1/chantiers")).json()["items"]
    assert [c["number"] for c in chantiers] == list(range(1, 9))
    transport = chantiers[4]
    assert transport["name"].startswith("Investir 350 M€ chaque année dans les transports")
    assert transport["targets"] == [
        {"year": year, "amount": "350000000.00"} for year in range(2020, 2027)
    ]
    assert all(c["targets"] == [] for c in chantiers if c["number"] != 5)
    assert all(c["priority_ids"] for c in chantiers)
    partners = {p["code"]: p for p in (await client.get("/v1/partners")).json()["items"]}
    assert partners["AMP"]["kind"] == "metropole"
    assert partners["AMP"]["name"] == "Métropole Aix-Marseille-Provence"
    assert partners["BDT"]["kind"] == "public_bank"


async def test_demo_marks_its_data_synthetic_and_runs_once(
    sessionmaker: Session, settings: Settings, client: httpx.AsyncClient
) -> None:
    async with sessionmaker() as session:
        first = await demo(session, settings)
        second = await demo(session, settings)
        await session.commit()
    assert first.actions > 20
    assert first.commitments > 100
    assert second.skipped
    real = await client.get("/v1/commitments", params={"synthetic": "false"})
    assert real.json()["items"] == []
    fake = await client.get("/v1/commitments", params={"synthetic": "true", "limit": 500})
    items = fake.json()["items"]
    assert items
    assert all(c["synthetic"] for c in items)
    assert all(Decimal(c["disbursed_amount"]) <= Decimal(c["amount"]) for c in items)
