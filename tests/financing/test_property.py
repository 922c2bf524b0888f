"""Random plans and commitments, step after step: every plan's gap, shares and secured money,
and the financing cube, equal an independent computation from the stored rows, to the cent;
the shares of a plan that covers its eligible cost add up to exactly 1.0000."""

from __future__ import annotations

import random
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import make_action, make_commitment, partner_id

STEPS = 30
INSTRUMENTS = ("grant", "loan", "own_funds")
UNIT = Decimal("0.0001")

LINES = text(
    "SELECT l.action_id::text AS action_id, l.partner_id::text AS partner_id, l.instrument,"
    " l.amount, coalesce((SELECT sum(c.amount) FROM commitments c WHERE c.action_id ="
    " l.action_id AND c.partner_id = l.partner_id AND c.instrument = l.instrument AND"
    " c.status = 'committed'), 0) AS secured FROM financing_plan_lines l"
    " WHERE l.action_id = CAST(:id AS uuid)"
)
PLAN = text(
    "SELECT total_cost, eligible_cost, lead_partner_id::text AS lead FROM financing_plans"
    " WHERE action_id = CAST(:id AS uuid)"
)


def _shares(amounts: dict[tuple[str, str], Decimal], eligible: Decimal) -> dict[Any, str]:
    """Largest remainder, computed here: floors, then one unit each to the largest remainders
    (ties by partner, instrument) until the sum is the plan's share rounded half up."""
    exact = {key: amount / eligible for key, amount in amounts.items()}
    floors = {key: value.quantize(UNIT, rounding=ROUND_DOWN) for key, value in exact.items()}
    target = (sum(amounts.values(), Decimal(0)) / eligible).quantize(UNIT, rounding=ROUND_HALF_UP)
    left = int((target - sum(floors.values(), Decimal(0))) / UNIT)
    ranked = sorted(exact, key=lambda key: (-(exact[key] - floors[key]), key))
    for key in ranked[:left]:
        floors[key] += UNIT
    return {key: f"{value:.4f}" for key, value in floors.items()}


async def _expected(connection: AsyncConnection, action_id: str) -> dict[str, Any] | None:
    plan = (await connection.execute(PLAN, {"id": action_id})).mappings().one_or_none()
    if plan is None:
        return None
    lines = (await connection.execute(LINES, {"id": action_id})).mappings().all()
    planned = sum((line["amount"] for line in lines), Decimal(0))
    secured = sum((line["secured"] for line in lines), Decimal(0))
    amounts = {(line["partner_id"], line["instrument"]): line["amount"] for line in lines}
    shares = _shares(amounts, plan["eligible_cost"]) if plan["eligible_cost"] else {}
    lead = sum((a for (p, _), a in amounts.items() if p == plan["lead"]), Decimal(0))
    return {
        "planned": f"{planned:.2f}",
        "secured": f"{secured:.2f}",
        "gap": f"{plan['eligible_cost'] - planned:.2f}",
        "leverage": f"{((planned - lead) / lead).quantize(Decimal('0.000001'), ROUND_HALF_UP)}"
        if lead
        else None,
        "lines": {
            (line["partner_id"], line["instrument"]): (
                f"{line['amount']:.2f}",
                shares.get((line["partner_id"], line["instrument"])),
                f"{line['secured']:.2f}",
                f"{max(line['amount'] - line['secured'], Decimal(0)):.2f}",
            )
            for line in lines
        },
        "eligible": plan["eligible_cost"],
        "total": plan["total_cost"],
        "lead_amount": lead,
    }


def _random_plan(rng: random.Random, partners: list[str]) -> dict[str, Any]:
    total = Decimal(rng.randrange(1, 10_000_000)) / 100
    eligible = (total * Decimal(rng.randrange(50, 101)) / 100).quantize(Decimal("0.01"))
    keys = rng.sample([(p, i) for p in partners for i in INSTRUMENTS], rng.randrange(0, 5))
    budget = eligible if rng.random() < 0.4 else eligible * Decimal(rng.randrange(1, 100)) / 100
    lines, left = [], budget.quantize(Decimal("0.01"))
    for n, (partner, instrument) in enumerate(keys):
        last = n == len(keys) - 1
        amount = left if last else (left * Decimal(rng.random())).quantize(Decimal("0.01"))
        if amount <= 0:
            continue
        left -= amount
        lines.append({"partner_id": partner, "instrument": instrument, "amount": f"{amount:.2f}"})
    lead = (
        rng.choice([line["partner_id"] for line in lines]) if lines and rng.random() < 0.7 else None
    )
    return {
        "total_cost": f"{total:.2f}",
        "eligible_cost": f"{eligible:.2f}",
        "lead_partner_id": lead,
        "lines": lines,
    }


async def _check(
    client: httpx.AsyncClient, connection: AsyncConnection, actions: list[str]
) -> None:
    cells: dict[str, Any] = {}
    for action_id in actions:
        expected = await _expected(connection, action_id)
        got = await client.get(f"/v1/actions/{action_id}/financing-plan")
        if expected is None:
            assert got.status_code == 404
            continue
        body = got.json()
        for field in ("planned", "secured", "gap", "leverage"):
            assert body[field] == expected[field], (field, body, expected)
        lines = {
            (line["partner_id"], line["instrument"]): (
                line["amount"],
                line["share"],
                line["secured"],
                line["unsecured"],
            )
            for line in body["lines"]
        }
        assert lines == expected["lines"]
        if body["lines"] and body["gap"] == "0.00":
            assert sum(Decimal(line["share"]) for line in body["lines"]) == Decimal("1.0000")
        cells[action_id] = expected
    if not cells:
        return
    params: dict[str, Any] = {"drilldown": "action", "action": list(cells), "page_size": 100}
    cube = (await client.get("/v1/aggregates/financing", params=params)).json()
    for cell in cube["cells"]:
        expected = cells[cell["action"]["id"]]
        assert cell["total_cost"] == f"{expected['total']:.2f}"
        assert cell["eligible_cost"] == f"{expected['eligible']:.2f}"
        for field in ("planned", "secured", "gap", "leverage"):
            assert cell[field] == expected[field], (field, cell, expected)
    assert len(cube["cells"]) == len(cells)
    total = sum((Decimal(e["planned"]) for e in cells.values()), Decimal(0))
    assert cube["summary"]["planned"] == f"{total:.2f}"
    gap = sum((Decimal(e["gap"]) for e in cells.values()), Decimal(0))
    assert cube["summary"]["gap"] == f"{gap:.2f}"
    by_partner = (
        await client.get("/v1/aggregates/financing", params=params | {"drilldown": "partner"})
    ).json()
    sums: dict[str, list[Decimal]] = {}
    for expected in cells.values():
        for (partner, _), (amount, _, secured, _) in expected["lines"].items():
            sums.setdefault(partner, [Decimal(0), Decimal(0)])
            sums[partner][0] += Decimal(amount)
            sums[partner][1] += Decimal(secured)
    per_partner = {
        c["partner"]["id"]: [Decimal(c["planned"]), Decimal(c["secured"])]
        for c in by_partner["cells"]
    }
    assert per_partner == sums
    assert all(c["gap"] is None and c["total_cost"] is None for c in by_partner["cells"])


async def test_random_plans_and_commitments_match_an_independent_computation_at_every_step(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    rng = random.Random(13)
    partners = [await partner_id(client, code) for code in ("BDT", "AMP")]
    actions = [(await make_action(client, admin))["id"] for _ in range(3)]
    commitments: list[str] = []
    for _ in range(STEPS):
        action_id = rng.choice(actions)
        move = rng.random()
        if move < 0.45:
            url = f"/v1/actions/{action_id}/financing-plan"
            response = await client.put(url, json=_random_plan(rng, partners), headers=admin)
            assert response.status_code in (200, 201), response.text
        elif move < 0.8 or not commitments:
            made = await make_commitment(
                client,
                admin,
                action_id=action_id,
                partner_id=rng.choice(partners),
                instrument=rng.choice(INSTRUMENTS),
                amount=f"{rng.randrange(1, 10**7) / 100:.2f}",
                status=rng.choice(["planned", "committed", "committed"]),
            )
            commitments.append(made["id"])
        else:
            changed = rng.choice(commitments)
            status = rng.choice(["planned", "committed", "cancelled"])
            patched = await client.patch(
                f"/v1/commitments/{changed}", json={"status": status}, headers=admin
            )
            assert patched.status_code == 200, patched.text
        await _check(client, connection, actions)
