"""Every measure of every drilldown, with and without filters, against an independent
computation over the same rows, exact to the cent; again after updates, deletes and moves."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import make_action
from tests.reporting import oracle

DIMENSIONS = [
    "priority", "chantier", "action", "partner", "partner_kind",
    "year", "status", "instrument", "commune", "epci", "departement",
]  # fmt: skip
DRILLDOWNS = [[d] for d in DIMENSIONS] + [
    ["priority", "commune"],
    ["chantier", "year"],
    ["partner_kind", "status"],
    ["action", "instrument"],
    ["commune", "year"],
    ["priority", "partner", "year"],
    ["programme", "partner_kind", "priority"],  # priorities summed after a join for kinds
    ["priority", "chantier", "year"],  # the chantier is the key of the first sum too
    ["epci", "year"],
    ["priority", "epci"],
    ["departement", "commune"],
]
INSTRUMENTS = ["grant", "loan", "equity", "guarantee", "own_funds", "engineering"]


async def _get(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ids(client: httpx.AsyncClient, resource: str) -> dict[str, str]:
    items = (await _get(client, f"/v1/{resource}?limit=500"))["items"]
    return {item["code"]: item["id"] for item in items}


async def build(
    client: httpx.AsyncClient, admin: dict[str, str], conn: AsyncConnection
) -> dict[str, Any]:
    """Overlaps on purpose: chantiers serving two priorities (seed), one serving none, actions
    spanning two communes or none, four partner kinds, cancelled commitments."""
    for code, kind in (("ETAT", "state"), ("REGION_SUD", "region")):
        response = await client.post(
            "/v1/partners", json={"code": code, "name": code, "kind": kind}, headers=admin
        )
        assert response.status_code == 201, response.text
    orphan = await client.post(
        "/v1/chantiers",
        json={"number": 90, "code": "ORPHELIN", "name": "Sans priorité"},
        headers=admin,
    )
    assert orphan.status_code == 201, orphan.text
    chantiers = await _ids(client, "chantiers")
    partners = await _ids(client, "partners")
    actions = [
        await make_action(client, admin, code="A-TRAM", chantier_id=chantiers["TRANSPORTS"],
                          communes=["13055", "13001"], progress=40, weight=3),
        await make_action(client, admin, code="A-BUS", chantier_id=chantiers["TRANSPORTS"],
                          communes=["13001"], progress=100, weight=1, status="completed"),
        await make_action(client, admin, code="A-SANTE", chantier_id=chantiers["SANTE_BAS_CARBONE"],
                          communes=["13005", "83137", "13055"], progress=10, weight=2),
        await make_action(client, admin, code="A-COMM", chantier_id=chantiers["SECTEURS_TOUCHES"],
                          communes=[], progress=70, weight=5, status="cancelled"),
        await make_action(client, admin, code="A-ORPHELIN", chantier_id=chantiers["ORPHELIN"],
                          communes=["13005"], progress=0, weight=0),
    ]  # fmt: skip
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    for i in range(60):
        amount = rng.randint(1, 5_000_000_00)
        status = rng.choice(["planned", "committed", "committed", "cancelled"])
        disbursed = rng.randint(0, amount) if status == "committed" else 0
        rows.append(
            {
                "action_id": rng.choice(actions)["id"],
                "partner_id": rng.choice(list(partners.values())),
                "external_ref": f"R-{i}",
                "year": rng.randint(2020, 2026),
                "amount": f"{amount // 100}.{amount % 100:02d}",
                "disbursed_amount": f"{disbursed // 100}.{disbursed % 100:02d}",
                "instrument": rng.choice(INSTRUMENTS),
                "status": status,
            }
        )
    for body in rows[:30]:  # through the API, one statement each
        response = await client.post("/v1/commitments", json=body, headers=admin)
        assert response.status_code == 201, response.text
    # and the rest in one multi-row statement, as a batch import would do
    await conn.execute(
        text(
            "INSERT INTO commitments (action_id, partner_id, external_ref, year, amount,"
            " disbursed_amount, instrument, status, version)"
            " SELECT action_id, partner_id, external_ref, year, amount, disbursed_amount,"
            " instrument, status, 1 FROM json_to_recordset(CAST(:rows AS json)) AS r("
            "action_id uuid, partner_id uuid, external_ref text, year int, amount numeric,"
            " disbursed_amount numeric, instrument text, status text)"
        ),
        {"rows": json.dumps(rows[30:])},
    )
    priorities = await _ids(client, "priorities")
    return {"chantiers": chantiers, "partners": partners, "priorities": priorities,
            "actions": {a["code"]: a["id"] for a in actions}}  # fmt: skip


def cuts(ids: dict[str, Any]) -> list[tuple[str, dict[str, list[Any]]]]:
    """(query string, the same filter for the oracle, entities as ids)."""
    p, c, pa, a = ids["priorities"], ids["chantiers"], ids["partners"], ids["actions"]
    return [
        ("", {}),
        ("year=2024", {"year": [2024]}),
        ("year=2021&year=2025", {"year": [2021, 2025]}),
        ("year_from=2022&year_to=2024", {"year_from": [2022], "year_to": [2024]}),
        ("priority=TRANSITION", {"priority": [p["TRANSITION"]]}),
        (f"priority={p['EMPLOI']}&priority=INCLUSION", {"priority": [p["EMPLOI"], p["INCLUSION"]]}),
        ("chantier=TRANSPORTS", {"chantier": [c["TRANSPORTS"]]}),
        ("action=A-TRAM", {"action": [a["A-TRAM"]]}),
        (f"partner=BDT&partner={pa['ETAT']}", {"partner": [pa["BDT"], pa["ETAT"]]}),
        ("partner_kind=public_bank&partner_kind=state", {"partner_kind": ["public_bank", "state"]}),
        ("status=cancelled", {"status": ["cancelled"]}),
        ("status=planned&status=committed", {"status": ["planned", "committed"]}),
        ("instrument=loan", {"instrument": ["loan"]}),
        ("commune=13001", {"commune": ["13001"]}),
        ("commune=13055&commune=13005", {"commune": ["13055", "13005"]}),
        (
            "year=2024&year=2025&priority=TRANSITION&commune=13055",
            {"year": [2024, 2025], "priority": [p["TRANSITION"]], "commune": ["13055"]},
        ),
        ("epci=200054807", {"epci": ["200054807"]}),
        ("departement=83&departement=13", {"departement": ["83", "13"]}),
        ("epci=248300543&commune=83137", {"epci": ["248300543"], "commune": ["83137"]}),
    ]


async def compare_everything(
    client: httpx.AsyncClient, conn: AsyncConnection, ids: dict[str, Any]
) -> None:
    data = await oracle.load(conn)
    for query, cut in cuts(ids):
        for drilldown in [[], *DRILLDOWNS]:
            dims = ",".join(drilldown)
            body = await _get(
                client, f"/v1/aggregates/commitments?drilldown={dims}&page_size=10000&{query}"
            )
            expected_cells, expected_summary = oracle.aggregate(data, drilldown, cut)
            where = f"{drilldown} {query}"
            assert body["summary"] == expected_summary, where
            got = {
                oracle.cell_key(cell, drilldown): oracle.measures(cell) for cell in body["cells"]
            }
            assert len(got) == len(body["cells"]), where  # no cell twice
            assert got == expected_cells, where
            assert body["total_cell_count"] == len(expected_cells), where
            assert body["overlapping"] is _overlapping(drilldown, expected_cells, expected_summary)
            if any(d in oracle.TERRITORIAL for d in drilldown) and "priority" not in drilldown:
                # the money is split, not counted twice: the cells add up to the summary
                for measure in ("planned", "committed", "disbursed"):
                    total = sum(Decimal(c[measure]) for c in expected_cells.values())
                    assert f"{total:.2f}" == expected_summary[measure], where
    # the roll-up itself equals a GROUP BY over commitments, row for row
    drift = await conn.execute(
        text(
            "(SELECT chantier_id, partner_id, year, status, instrument, amount_sum,"
            " disbursed_sum, commitment_count FROM commitment_rollups"
            " EXCEPT SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,"
            " sum(c.amount), sum(c.disbursed_amount), count(*)"
            " FROM commitments c JOIN actions a ON a.id = c.action_id GROUP BY 1, 2, 3, 4, 5)"
            " UNION ALL"
            " (SELECT a.chantier_id, c.partner_id, c.year, c.status, c.instrument,"
            " sum(c.amount), sum(c.disbursed_amount), count(*)"
            " FROM commitments c JOIN actions a ON a.id = c.action_id GROUP BY 1, 2, 3, 4, 5"
            " EXCEPT SELECT chantier_id, partner_id, year, status, instrument, amount_sum,"
            " disbursed_sum, commitment_count FROM commitment_rollups)"
        )
    )
    assert drift.all() == []
    # and the territorial roll-up equals its recomputation from scratch
    territorial = text(
        "SELECT level, territory, chantier_id, partner_id, year, status, instrument,"
        " amount_sum, disbursed_sum, commitment_count FROM territorial_rollups ORDER BY 1, 2, 3, 4,"
        " 5, 6, 7"
    )
    kept = (await conn.execute(territorial)).all()
    async with conn.begin_nested() as recomputed:
        await conn.execute(text("SELECT territorial_rollups_rebuild()"))
        assert (await conn.execute(territorial)).all() == kept
        await recomputed.rollback()
    assert {row.level for row in kept} == {"commune", "epci", "departement"}


def _overlapping(
    drilldown: list[str], cells: dict[Any, dict[str, Any]], summary: dict[str, Any]
) -> bool:
    """A commitment's money in several cells; without a territorial dimension (which splits
    the money but counts a commitment in each territory), a commitment in several cells."""
    if any(d in oracle.TERRITORIAL for d in drilldown):
        money = sum(Decimal(c["planned"]) + Decimal(c["committed"]) for c in cells.values())
        return money > Decimal(summary["planned"]) + Decimal(summary["committed"])
    in_cells: int = sum(c["count"] for c in cells.values())
    return in_cells > int(summary["count"])


@pytest.fixture
async def dataset(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> dict[str, Any]:
    return await build(client, admin, connection)


async def test_every_drilldown_and_filter_matches_an_independent_computation(
    client: httpx.AsyncClient, connection: AsyncConnection, dataset: dict[str, Any]
) -> None:
    data = await oracle.load(connection)
    assert {r["status"] for r in data.commitments} == {"planned", "committed", "cancelled"}
    await compare_everything(client, connection, dataset)


async def test_figures_stay_exact_after_updates_deletes_and_moves(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    dataset: dict[str, Any],
) -> None:
    items = (await _get(client, "/v1/commitments?limit=500&sort=created_at"))["items"]
    assert len(items) == 60
    changes: list[dict[str, Any]] = [
        {"amount": "123456.78", "disbursed_amount": "0.01", "status": "committed"},
        {"status": "cancelled"},
        {"status": "planned", "disbursed_amount": "0"},
        {"year": 2020},
        {"partner_id": dataset["partners"]["REGION_SUD"]},
        {"action_id": dataset["actions"]["A-ORPHELIN"]},
        {"instrument": "equity"},
        {"label": "no figure changes"},
    ]
    for item, change in zip(items, changes, strict=False):
        response = await client.patch(f"/v1/commitments/{item['id']}", json=change, headers=admin)
        assert response.status_code == 200, (change, response.text)
    for item in items[10:14]:
        response = await client.delete(f"/v1/commitments/{item['id']}", headers=admin)
        assert response.status_code == 204, response.text
    # multi-row statements, as batch imports do
    await connection.execute(
        text(
            "UPDATE commitments SET disbursed_amount = amount"
            " WHERE status = 'committed' AND year = 2023"
        )
    )
    await connection.execute(
        text("DELETE FROM commitments WHERE year = 2026 AND status = 'planned'")
    )
    # an action moves to another chantier: its figures move with it
    response = await client.patch(
        f"/v1/actions/{dataset['actions']['A-TRAM']}",
        json={"chantier_id": dataset["chantiers"]["SANTE_BAS_CARBONE"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    # an action's communes change (a commune dropped, a commune of another département added)
    response = await client.patch(
        f"/v1/actions/{dataset['actions']['A-SANTE']}",
        json={"communes": ["83137", "13001", "13005", "13001"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    # the referential moves a commune to another EPCI (a new vintage of the EPCI's perimeters)
    moved = await connection.execute(
        text(
            "UPDATE territories SET epci_code = '248300543'"
            " WHERE kind = 'commune' AND code = '13001' AND epci_code <> '248300543'"
        )
    )
    assert moved.rowcount == 1
    # and a chantier starts serving another priority
    response = await client.patch(
        f"/v1/chantiers/{dataset['chantiers']['ORPHELIN']}",
        json={
            "priority_ids": [dataset["priorities"]["EMPLOI"], dataset["priorities"]["INCLUSION"]]
        },
        headers=admin,
    )
    assert response.status_code == 200, response.text
    await compare_everything(client, connection, dataset)
