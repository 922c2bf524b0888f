"""Late actions: random milestone sets, dated around the database's current date, give the
`late` flags, the `?late=` filter and the late counts of progress and summaries that a
computation of their own (in Python, from what the test wrote) gives, after every step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import chantier_id, make_action

STATUSES = ("scheduled", "met", "missed", "cancelled")


@dataclass
class Written:
    """What the test wrote: per action, its chantier and its milestones (id → status, due)."""

    chantier: dict[str, str] = field(default_factory=dict)
    milestones: dict[str, dict[str, tuple[str, date]]] = field(default_factory=dict)

    def late(self, action: str, today: date) -> bool:
        return any(
            status == "missed" or (status == "scheduled" and due < today)
            for status, due in self.milestones[action].values()
        )

    def late_in(self, chantiers: set[str], today: date) -> int:
        return sum(self.late(a, today) for a, c in self.chantier.items() if c in chantiers)


def _body(rng: random.Random, today: date) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    due = today + timedelta(days=rng.randint(-4, 4))  # around today: due today is not late
    body: dict[str, Any] = {"title": "Jalon", "due_on": due.isoformat(), "status": status}
    if status == "met":
        body["met_on"] = min(today, due + timedelta(days=rng.randint(-3, 3))).isoformat()
    return body


async def _check(
    app: FastAPI,
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    written: Written,
    today: date,
    chantiers: list[str],
) -> None:
    for action, milestones in written.milestones.items():
        url = app.url_path_for("list_milestones", action_id=action)
        items = (await client.get(url)).json()["items"]
        assert {i["id"]: i["late"] for i in items} == {
            id: status == "missed" or (status == "scheduled" and due < today)
            for id, (status, due) in milestones.items()
        }
    for wanted in (True, False):
        listed = await client.get(
            "/v1/actions",
            params={"chantier_id": chantiers, "late": str(wanted).lower(), "limit": 500},
        )
        assert listed.status_code == 200, listed.text
        got = {a["id"] for a in listed.json()["items"]} & set(written.chantier)
        assert got == {a for a in written.chantier if written.late(a, today) is wanted}
    for chantier in chantiers:
        url = app.url_path_for("get_chantier_progress", chantier_id=chantier)
        progress = (await client.get(url)).json()
        assert progress["late_actions"] == written.late_in({chantier}, today)
    summary = (await client.get(app.url_path_for("get_summary"))).json()
    assert summary["late_actions"] == written.late_in(set(chantiers), today)
    by_chantier = {r["chantier"]["id"]: r for r in summary["late_actions_by_chantier"]}
    assert sum(r["late_actions"] for r in by_chantier.values()) == summary["late_actions"]
    counted = await connection.execute(
        text("SELECT chantier_id::text, count(*) FROM actions GROUP BY chantier_id")
    )
    actions: dict[str, int] = {str(c): int(n) for c, n in counted.all()}
    for chantier, row in by_chantier.items():
        assert row["actions"] == actions.get(chantier, 0)
        expected = written.late_in({chantier}, today)
        assert row["late_actions"] == expected
    lates = [r["late_actions"] for r in summary["late_actions_by_chantier"]]
    assert lates == sorted(lates, reverse=True)


@pytest.mark.parametrize("seed", range(4))
async def test_late_flags_filter_and_counts_match_the_dates(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    seed: int,
) -> None:
    rng = random.Random(seed)
    today: date = (await connection.execute(text("SELECT current_date"))).scalar_one()
    chantiers = [await chantier_id(client, 5), await chantier_id(client, 6)]
    written = Written()
    for _ in range(10):
        chantier = rng.choice(chantiers)
        action = (await make_action(client, admin, chantier_id=chantier))["id"]
        written.chantier[action] = chantier
        written.milestones[action] = {}
        url = app.url_path_for("create_milestone", action_id=action)
        for _ in range(rng.randint(0, 4)):
            body = _body(rng, today)
            created = await client.post(url, json=body, headers=admin)
            assert created.status_code == 201, created.text
            due = date.fromisoformat(body["due_on"])
            written.milestones[action][created.json()["id"]] = (body["status"], due)
    await _check(app, client, connection, written, today, chantiers)

    # Steps: a milestone changes status or date, or goes; the answers follow each time.
    for _ in range(6):
        action = rng.choice([a for a, m in written.milestones.items() if m])
        milestone = rng.choice(list(written.milestones[action]))
        item = app.url_path_for("update_milestone", milestone_id=milestone)
        if rng.random() < 0.2:
            assert (await client.delete(item, headers=admin)).status_code == 204
            del written.milestones[action][milestone]
        else:
            body = _body(rng, today)
            body.setdefault("met_on", None)
            changed = await client.patch(item, json=body, headers=admin)
            assert changed.status_code == 200, changed.text
            due = date.fromisoformat(body["due_on"])
            written.milestones[action][milestone] = (body["status"], due)
        await _check(app, client, connection, written, today, chantiers)


async def test_priority_progress_counts_the_late_actions_of_its_chantiers(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    today: date = (await connection.execute(text("SELECT current_date"))).scalar_one()
    chantier = (await client.get("/v1/chantiers", params={"number": 5})).json()["items"][0]
    late = await make_action(client, admin, chantier_id=chantier["id"])
    url = app.url_path_for("create_milestone", action_id=late["id"])
    overdue = {"title": "Jalon", "due_on": (today - timedelta(days=1)).isoformat()}
    assert (await client.post(url, json=overdue, headers=admin)).status_code == 201
    for priority in chantier["priority_ids"]:
        progress = (
            await client.get(app.url_path_for("get_priority_progress", priority_id=priority))
        ).json()
        # The SQL of its own: the late actions of the chantiers serving the priority.
        expected = await connection.execute(
            text(
                "SELECT count(DISTINCT a.id) FROM actions a"
                " JOIN chantier_priorities cp ON cp.chantier_id = a.chantier_id"
                " JOIN milestones m ON m.action_id = a.id"
                " WHERE cp.priority_id = CAST(:p AS uuid)"
                " AND (m.status = 'missed' OR (m.status = 'scheduled' AND m.due_on < :today))"
            ),
            {"p": priority, "today": today},
        )
        assert progress["late_actions"] == expected.scalar_one() >= 1
    summary = (
        await client.get(
            app.url_path_for("get_programme_summary", programme_id=chantier["programme_id"])
        )
    ).json()
    assert summary["late_actions"] == 1
