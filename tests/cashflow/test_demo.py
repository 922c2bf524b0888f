"""`relance demo` writes schedules over several years and dated payments through the tables:
the rules hold for every commitment, disbursed_amount is its payments' sum, and the first
programme's cash flow has a real programme's shape (slow first years, a peak, a tail past its
end)."""

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


async def test_demo_money_over_time_follows_the_rules_and_a_programme_curve(
    sessionmaker: Session, settings: Settings, connection: AsyncConnection,
    client: httpx.AsyncClient,
) -> None:  # fmt: skip
    async with sessionmaker() as session:
        report = await demo(session, settings)
        await session.commit()
    assert report.commitments > 100
    # Σ lines = amount, none before the commitment's year, every commitment scheduled
    assert await _one(connection, """
        SELECT count(*) FROM commitments c
        LEFT JOIN LATERAL (SELECT sum(amount) AS total, min(year) AS first
                           FROM schedule_lines WHERE commitment_id = c.id) l ON true
        WHERE l.total IS DISTINCT FROM c.amount OR l.first < c.year""") == 0  # fmt: skip
    assert await _one(connection, "SELECT count(DISTINCT year) FROM schedule_lines") >= 6
    # payments: never before the commitment's year nor after today, within the amount, and
    # disbursed_amount is their signed sum
    assert await _one(connection, """
        SELECT count(*) FROM payments p JOIN commitments c ON c.id = p.commitment_id
        WHERE p.paid_on < make_date(c.year, 1, 1) OR p.paid_on > current_date""") == 0  # fmt: skip
    assert await _one(connection, """
        SELECT count(*) FROM commitments c
        LEFT JOIN LATERAL (SELECT coalesce(sum(CASE WHEN kind = 'reversal' THEN -amount
                                                     ELSE amount END), 0) AS total
                           FROM payments WHERE commitment_id = c.id) p ON true
        WHERE p.total <> c.disbursed_amount OR p.total NOT BETWEEN 0 AND c.amount
        """) == 0  # fmt: skip
    assert await _one(connection, "SELECT count(*) FROM payments WHERE kind = 'reversal'") > 0
    assert await _one(connection, "SELECT count(*) FROM schedule_versions") >= report.commitments

    response = await client.get(
        "/v1/aggregates/cashflow", params={"programme": "AMP-RR-2020-2026", "as_of": 2026}
    )
    assert response.status_code == 200, response.text
    years = {c["year"]: c for c in response.json()["cells"]}
    paid = {y: float(c["paid"]) for y, c in years.items() if y <= 2026}
    peak = max(paid, key=lambda y: paid[y])
    assert 2021 < peak < 2026, paid  # a peak in the middle
    assert paid[2020] < paid[peak] / 3, paid  # slow first year
    assert sum(float(c["scheduled"]) for y, c in years.items() if y > 2026) > 0  # a tail
    assert response.json()["summary"]["coverage_ratio"] is not None
