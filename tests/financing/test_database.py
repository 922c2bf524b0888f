"""The database's own rules for financing plans, whatever the writer: concurrent writers of one
plan's lines never take it above its eligible cost, a lead partner needs a line, and a write
that goes around the API still moves the plan's version and logs it."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from tests.database import plain
from tests.factories import make_action, partner_id

WRITERS = 10
INSTRUMENTS = ("grant", "loan", "equity", "guarantee", "own_funds", "engineering")


async def _plan(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    action = await make_action(client, admin)
    url = f"/v1/actions/{action['id']}/financing-plan"
    body = {"total_cost": "1000.00", "eligible_cost": "1000.00", "lines": []}
    assert (await client.put(url, json=body, headers=admin)).status_code == 201
    return str(action["id"])


async def _insert_line(
    database_url: str, action_id: str, partner: str, instrument: str, ready: asyncio.Barrier
) -> str | None:
    """One writer, started with all the others: its line inserted and committed; the constraint
    that refused it, or None."""
    conn = await asyncpg.connect(plain(database_url))
    try:
        transaction = conn.transaction()
        await transaction.start()
        await ready.wait()
        await conn.execute(
            "INSERT INTO financing_plan_lines (action_id, partner_id, instrument, amount)"
            " VALUES ($1, $2, $3, 200)",
            uuid.UUID(action_id),
            uuid.UUID(partner),
            instrument,
        )
        try:
            await transaction.commit()
        except asyncpg.CheckViolationError as refused:
            return str(refused.constraint_name)
        return None
    finally:
        await conn.close()


async def test_concurrent_writers_of_one_plan_never_exceed_its_eligible_cost(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    action_id = await _plan(live_client, live_admin)
    partners = [await partner_id(live_client, code) for code in ("BDT", "AMP")]
    keys = list(itertools.product(partners, INSTRUMENTS))[:WRITERS]
    ready = asyncio.Barrier(WRITERS)
    outcomes = await asyncio.gather(
        *(_insert_line(database_url, action_id, p, i, ready) for p, i in keys)
    )
    # 1000.00 holds five lines of 200.00: the five others are refused by name.
    assert outcomes.count(None) == 5, outcomes
    assert set(outcomes) - {None} == {"financing_plan_lines_within_eligible_check"}
    conn = await asyncpg.connect(plain(database_url))
    try:
        total = await conn.fetchval(
            "SELECT sum(amount) FROM financing_plan_lines WHERE action_id = $1",
            uuid.UUID(action_id),
        )
    finally:
        await conn.close()
    assert total == 1000
    plan = (await live_client.get(f"/v1/actions/{action_id}/financing-plan")).json()
    assert (plan["planned"], plan["gap"]) == ("1000.00", "0.00")
    assert sum(Decimal(line["share"]) for line in plan["lines"]) == Decimal("1.0000")


async def test_a_write_around_the_api_moves_the_version_and_is_logged_like_get(
    live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    action_id = await _plan(live_client, live_admin)
    bdt = await partner_id(live_client, "BDT")
    conn = await asyncpg.connect(plain(database_url))
    try:
        await conn.execute(
            "INSERT INTO financing_plan_lines (action_id, partner_id, instrument, amount)"
            " VALUES ($1, $2, 'loan', 300)",
            uuid.UUID(action_id),
            uuid.UUID(bdt),
        )
        with_lead = "UPDATE financing_plans SET lead_partner_id = $2 WHERE action_id = $1"
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(with_lead, uuid.UUID(action_id), uuid.uuid4())
        amp = await partner_id(live_client, "AMP")
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await conn.execute(with_lead, uuid.UUID(action_id), uuid.UUID(amp))
        assert refused.value.constraint_name == "financing_plans_lead_among_lines_check"
    finally:
        await conn.close()
    got = (await live_client.get(f"/v1/actions/{action_id}/financing-plan")).json()
    assert got["planned"] == "300.00"
    assert got["etag"].endswith('-2"')
    history = (await live_client.get(f"/v1/financing_plans/{action_id}/history")).json()
    assert [entry["data"] for entry in history["items"]][-1] == got
