"""Concurrent payers on one commitment: the database's bound holds, the losers get a 422 naming
/amount, and the change feed lists exactly the payments that were made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine
from app.main import attach_database, create_app
from tests.changes.feed import end_cursor
from tests.factories import make_commitment

PAYERS = 50


@pytest.fixture
async def crowd(live_app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with a pool of its own, room for every payer at once (a busy machine
    makes them slower, never short of connections); live_app cleans up."""
    db = settings.db.model_copy(update={"pool_size": PAYERS, "max_overflow": 0})
    sized = settings.model_copy(update={"db": db})
    app = create_app(sized)
    engine = create_engine(sized)
    attach_database(app, engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await engine.dispose()


async def test_fifty_concurrent_payments_of_one_euro_on_thirty_exactly_thirty_succeed(
    crowd: httpx.AsyncClient, live_admin: dict[str, str], engine: AsyncEngine, database_url: str
) -> None:
    commitment = await make_commitment(crowd, live_admin, amount="30.00")
    cursor = await end_cursor(database_url)
    url = f"/v1/commitments/{commitment['id']}/payments"
    body = {"paid_on": "2024-03-01", "amount": "1.00"}
    responses = await asyncio.gather(
        *(crowd.post(url, json=body, headers=live_admin) for _ in range(PAYERS))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 30 + [422] * 20, [r.text for r in responses if r.status_code >= 500]
    for refused in (r for r in responses if r.status_code == 422):
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in refused.json()["errors"]] == ["/amount"]

    async with engine.connect() as conn:
        paid, count, disbursed = (
            await conn.execute(
                text(
                    "SELECT sum(p.amount), count(*), c.disbursed_amount FROM payments p"
                    " JOIN commitments c ON c.id = p.commitment_id"
                    " WHERE c.id = CAST(:id AS uuid) GROUP BY c.disbursed_amount"
                ),
                {"id": commitment["id"]},
            )
        ).one()
    assert (paid, count, disbursed) == (Decimal("30.00"), 30, Decimal("30.00"))
    final = (await crowd.get(f"/v1/commitments/{commitment['id']}")).json()
    assert final["disbursed_amount"] == "30.00"
    assert final["etag"].endswith('-31"')  # one version per payment made

    feed = await crowd.get(
        "/v1/changes", params={"cursor": cursor, "resource": "payments", "limit": 1000}
    )
    made = {r.json()["id"]: r.json() for r in responses if r.status_code == 201}
    entries = feed.json()["items"]
    assert [e["op"] for e in entries] == ["create"] * 30
    assert {e["resource_id"]: e["data"] for e in entries} == made
