"""`relance demo` gives its actions milestones that agree with their dates and statuses, some
of them late, and `--reset` replaces them with the actions."""

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


async def test_demo_milestones_follow_the_action_dates_and_some_are_late(
    sessionmaker: Session,
    settings: Settings,
    connection: AsyncConnection,
    client: httpx.AsyncClient,
) -> None:
    async with sessionmaker() as session:
        await demo(session, settings)
        await session.commit()
    actions = await _one(connection, "SELECT count(*) FROM actions WHERE synthetic")
    # Five steps per action: the works start on its start date, the delivery on its end date.
    assert await _one(connection, "SELECT count(*) FROM milestones") == 5 * actions
    assert await _one(connection, """
        SELECT count(*) FROM milestones m JOIN actions a ON a.id = m.action_id
        WHERE (m.kind = 'works_start' AND m.due_on <> a.start_date)
           OR (m.kind = 'delivery' AND m.due_on <> a.end_date)""") == 0  # fmt: skip
    # Nothing met in the future, nothing still ahead of its date marked met or missed, and a
    # completed action has every step met.
    assert await _one(connection, """
        SELECT count(*) FROM milestones m JOIN actions a ON a.id = m.action_id
        WHERE m.met_on > current_date
           OR (m.due_on >= current_date AND m.status <> 'scheduled')
           OR (a.status = 'completed' AND m.status <> 'met')""") == 0  # fmt: skip
    late = await client.get("/v1/actions", params={"late": "true", "limit": 500})
    assert 0 < len(late.json()["items"]) < actions
    summary = (await client.get("/v1/summary")).json()
    assert summary["late_actions"] == len(late.json()["items"])

    async with sessionmaker() as session:
        report = await demo(session, settings, reset=True)
        await session.commit()
    assert report.actions == actions
    assert await _one(connection, "SELECT count(*) FROM milestones") == 5 * actions
