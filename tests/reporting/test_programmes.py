"""Programme in the aggregates: two programmes (2020–2026 and 2023–2027) sharing BDT; after
random creates, updates, deletes, an action moved between programmes and a chantier moved
between priorities, the cells by programme × partner × year equal an independent SQL
computation to the cent, and the programmes' totals add up to the grand total."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import make_action, partner_id
from tests.programmes_api.test_router import BODY

# Independent of the roll-up and of the programme_id copies: the programme is the chantier's.
ORACLE = text(
    """
SELECT ch.programme_id::text AS programme, c.partner_id::text AS partner, c.year,
       coalesce(sum(c.amount) FILTER (WHERE c.status = 'planned'), 0) AS planned,
       coalesce(sum(c.amount) FILTER (WHERE c.status = 'committed'), 0) AS committed,
       coalesce(sum(c.disbursed_amount) FILTER (WHERE c.status = 'committed'), 0) AS disbursed,
       count(*) AS count
FROM commitments c JOIN actions a ON a.id = c.action_id JOIN chantiers ch ON ch.id = a.chantier_id
GROUP BY 1, 2, 3
"""
)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


async def _expected(connection: AsyncConnection) -> dict[tuple[str, str, int], dict[str, Any]]:
    rows = (await connection.execute(ORACLE)).mappings().all()
    return {
        (r["programme"], r["partner"], r["year"]): {
            "planned": _money(r["planned"]),
            "committed": _money(r["committed"]),
            "disbursed": _money(r["disbursed"]),
            "count": r["count"],
        }
        for r in rows
    }


async def _actual(client: httpx.AsyncClient) -> dict[tuple[str, str, int], dict[str, Any]]:
    response = await client.get(
        "/v1/aggregates/commitments",
        params={"drilldown": "programme,partner,year", "page_size": 10_000},
    )
    assert response.status_code == 200, response.text
    return {
        (c["programme"]["id"], c["partner"]["id"], c["year"]): {
            k: c[k] for k in ("planned", "committed", "disbursed", "count")
        }
        for c in response.json()["cells"]
    }


async def _check(client: httpx.AsyncClient, connection: AsyncConnection) -> None:
    expected = await _expected(connection)
    assert await _actual(client) == expected
    summary = (await client.get("/v1/summary")).json()
    by_programme = {c["programme"]["id"]: c for c in summary["by_programme"]}
    for measure in ("planned", "committed", "disbursed"):
        total = sum((Decimal(c[measure]) for c in by_programme.values()), Decimal(0))
        assert _money(total) == summary["totals"][measure]
        assert summary["totals"][measure] == _money(
            sum((Decimal(v[measure]) for v in expected.values()), Decimal(0))
        )
    assert sum(c["count"] for c in by_programme.values()) == summary["totals"]["count"]
    for id, cell in by_programme.items():
        own = (await client.get(f"/v1/programmes/{id}/summary")).json()
        assert own["totals"] == {k: cell[k] for k in own["totals"]}
        assert [c["programme"]["id"] for c in own["by_programme"]] == [id]
        cut = await client.get("/v1/aggregates/commitments", params={"programme": id})
        assert cut.json()["summary"] == own["totals"]


async def test_aggregates_by_programme_partner_and_year_match_an_independent_computation(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    first = (await client.get("/v1/programmes")).json()["items"][0]
    second = (await client.post("/v1/programmes", json=BODY, headers=admin)).json()
    priorities = []
    for code in ("CLIMAT", "COHESION"):
        created = await client.post(
            "/v1/priorities",
            json={"programme_id": second["id"], "code": code, "name": code},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        priorities.append(created.json()["id"])
    chantiers = []
    for number in (1, 2):  # the first programme has chantiers 1 and 2 too
        created = await client.post(
            "/v1/chantiers",
            json={"programme_id": second["id"], "number": number, "code": f"C{number}",
                  "name": f"C{number}", "priority_ids": [priorities[0]]},
            headers=admin,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        chantiers.append(created.json())
    listed = (await client.get("/v1/chantiers", params={"programme_id": first["id"]})).json()
    firsts = [c["id"] for c in listed["items"]][:3]
    actions = {
        "first": [(await make_action(client, admin, chantier_id=c))["id"] for c in firsts],
        "second": [
            (await make_action(client, admin, chantier_id=c["id"]))["id"] for c in chantiers
        ],
    }
    periods = {"first": range(2020, 2027), "second": range(2023, 2028)}
    partners = [await partner_id(client, code) for code in ("BDT", "AMP")]
    rng = random.Random(11)
    made: list[dict[str, Any]] = []

    async def create(n: int) -> None:
        for _ in range(n):
            side = rng.choice(["first", "second"])
            amount = rng.randint(100, 900_000_000)
            status = rng.choice(["planned", "committed", "committed", "cancelled"])
            disbursed = rng.randint(0, amount) if status == "committed" else 0
            body = {
                "action_id": rng.choice(actions[side]),
                "partner_id": rng.choice(partners),
                "year": rng.choice(periods[side]),
                "amount": _money(Decimal(amount) / 100),
                "disbursed_amount": _money(Decimal(disbursed) / 100),
                "instrument": rng.choice(["grant", "loan"]),
                "status": status,
            }
            response = await client.post("/v1/commitments", json=body, headers=admin)
            assert response.status_code == 201, response.text
            made.append(response.json())

    await create(40)
    await _check(client, connection)

    for commitment in rng.sample(made, 12):  # updates: amounts, statuses, years in period
        side = "second" if commitment["programme_id"] == second["id"] else "first"
        amount = Decimal(rng.randint(100, 900_000_000)) / 100
        changes = {
            "amount": _money(amount),
            "disbursed_amount": "0.00",
            "status": rng.choice(["planned", "committed", "cancelled"]),
            "year": rng.choice(periods[side]),
        }
        response = await client.patch(
            f"/v1/commitments/{commitment['id']}", json=changes, headers=admin
        )
        assert response.status_code == 200, response.text
    for commitment in rng.sample(made, 8):
        response = await client.delete(f"/v1/commitments/{commitment['id']}", headers=admin)
        assert response.status_code in (204, 404), response.text
    await _check(client, connection)

    # An action of the first programme whose years all lie in 2023–2026 moves to the second.
    mover = await make_action(client, admin, chantier_id=firsts[0])
    for year in (2023, 2024, 2026):
        response = await client.post(
            "/v1/commitments",
            json={"action_id": mover["id"], "partner_id": partners[0], "year": year,
                  "amount": "1234567.89", "status": "committed", "instrument": "loan"},
            headers=admin,
        )  # fmt: skip
        assert response.status_code == 201, response.text
    await _check(client, connection)
    moved = await client.patch(
        f"/v1/actions/{mover['id']}", json={"chantier_id": chantiers[1]["id"]}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["programme_id"] == second["id"]
    # A chantier moved to another priority of its programme.
    response = await client.patch(
        f"/v1/chantiers/{chantiers[1]['id']}", json={"priority_ids": [priorities[1]]}, headers=admin
    )
    assert response.status_code == 200, response.text
    await create(10)
    await _check(client, connection)
    by_priority = await client.get(
        "/v1/aggregates/commitments",
        params={"drilldown": "priority", "programme": second["code"]},
    )
    cells = {c["priority"]["id"]: c["count"] for c in by_priority.json()["cells"]}
    assert set(cells) <= set(priorities)

    progress = (await client.get(f"/v1/chantiers/{chantiers[1]['id']}/progress")).json()
    assert progress["programme"]["id"] == second["id"]
    assert [y["year"] for y in progress["years"]] == list(periods["second"])
