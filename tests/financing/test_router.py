"""Financing plans: PUT creates then replaces (If-Match), GET with ETag and If-None-Match,
shares, secured money, gap and leverage as published; bad input refused by pointer with
nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem, pointers
from tests.factories import make_action, make_commitment, partner_id

MISSING = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"


def plan(lines: list[tuple[str, str, str]], **fields: Any) -> dict[str, Any]:
    return {
        "total_cost": "1200.00",
        "eligible_cost": "1000.00",
        "lines": [{"partner_id": p, "instrument": i, "amount": a} for p, i, a in lines],
    } | fields


async def _stored(connection: AsyncConnection) -> tuple[Any, ...]:
    row = await connection.execute(
        text(
            "SELECT (SELECT count(*) FROM financing_plans), (SELECT count(*) FROM"
            " financing_plan_lines), (SELECT coalesce(sum(version), 0) FROM financing_plans)"
        )
    )
    return tuple(row.one())


async def test_put_creates_then_replaces_with_if_match_and_get_answers_the_same(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    bdt, amp = await partner_id(client, "BDT"), await partner_id(client, "AMP")
    url = app.url_path_for("put_financing_plan", action_id=action["id"])
    body = plan([(bdt, "loan", "600.00"), (amp, "grant", "300.00")], lead_partner_id=amp)
    created = await client.put(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == url
    first = created.json()
    assert created.headers["ETag"] == first["etag"]
    assert first["id"] == first["action_id"] == action["id"]
    assert (first["planned"], first["gap"], first["secured"]) == ("900.00", "100.00", "0.00")
    assert first["leverage"] == "2.000000"  # BDT's 600 per AMP's 300
    got = await client.get(url)
    assert got.json() == first
    assert got.headers["ETag"] == first["etag"]
    assert (await client.get(url, headers={"If-None-Match": first["etag"]})).status_code == 304

    again = await client.put(url, json=body, headers=admin | {"If-Match": first["etag"]})
    assert again.status_code == 200
    assert again.json() == first

    body["lines"].append({"partner_id": amp, "instrument": "loan", "amount": "100.00"})
    replaced = await client.put(url, json=body, headers=admin | {"If-Match": first["etag"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["gap"] == "0.00"
    assert replaced.json()["etag"] != first["etag"]
    stale = await client.put(url, json=body, headers=admin | {"If-Match": first["etag"]})
    assert_problem(stale, 412)


async def test_shares_add_up_to_exactly_one_when_the_plan_covers_the_eligible_cost(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    bdt, amp = await partner_id(client, "BDT"), await partner_id(client, "AMP")
    url = app.url_path_for("put_financing_plan", action_id=action["id"])
    # Thirds: 0.3333 each rounded down, the unit left goes to the largest remainder.
    lines = [(bdt, "loan", "333.33"), (bdt, "grant", "333.33"), (amp, "grant", "333.34")]
    response = await client.put(url, json=plan(lines), headers=admin)
    shares = {
        (line["partner_id"], line["instrument"]): line["share"] for line in response.json()["lines"]
    }
    assert sorted(shares.values()) == ["0.3333", "0.3333", "0.3334"]
    assert shares[(amp, "grant")] == "0.3334"
    assert response.json()["leverage"] is None  # no lead partner


async def test_secured_is_what_the_partner_committed_on_the_action_through_the_instrument(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_financing_plan", action_id=action["id"])
    created = (await client.put(url, json=plan([(bdt, "loan", "600.00")]), headers=admin)).json()
    kept = {"action_id": action["id"], "partner_id": bdt, "instrument": "loan"}
    await make_commitment(client, admin, **kept, amount="250.00", status="committed")
    await make_commitment(client, admin, **kept, amount="99.00", status="planned")
    await make_commitment(
        client, admin, **kept | {"instrument": "grant"}, amount="7.00", status="committed"
    )
    now = (await client.get(url)).json()
    assert (now["lines"][0]["secured"], now["lines"][0]["unsecured"]) == ("250.00", "350.00")
    assert (now["secured"], now["unsecured"]) == ("250.00", "350.00")
    assert now["etag"] != created["etag"]  # the committed commitment moved the version


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"lines": [("BDT", "loan", "600.00"), ("AMP", "grant", "400.01")]}, "/lines"),
        ({"eligible_cost": "1200.01"}, "/eligible_cost"),
        ({"lines": [("BDT", "loan", "1.00"), ("BDT", "loan", "2.00")]}, "/lines/1/instrument"),
        ({"lines": [(MISSING, "loan", "1.00")]}, "/lines/0/partner_id"),
        ({"lead": "AMP", "lines": [("BDT", "loan", "1.00")]}, "/lead_partner_id"),
        ({"lines": [("BDT", "loan", "0.00")]}, "/lines/0/amount"),
        ({"lines": [("BDT", "loan", 5)]}, "/lines/0/amount"),
        ({"lines": [("BDT", "cash", "5.00")]}, "/lines/0/instrument"),
        ({"total_cost": "-1.00"}, "/total_cost"),
    ],
)
async def test_bad_plan_is_refused_naming_the_field_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    change: dict[str, Any],
    pointer: str,
) -> None:
    action = await make_action(client, admin)
    codes = {"BDT": await partner_id(client, "BDT"), "AMP": await partner_id(client, "AMP")}
    body = plan([])
    for field, value in change.items():
        if field == "lines":
            body["lines"] = [
                {"partner_id": codes.get(p, p), "instrument": i, "amount": a} for p, i, a in value
            ]
        elif field == "lead":
            body["lead_partner_id"] = codes[value]
        else:
            body[field] = value
    before = await _stored(connection)
    url = app.url_path_for("put_financing_plan", action_id=action["id"])
    response = await client.put(url, json=body, headers=admin)
    assert pointer in pointers(assert_problem(response, 422)), response.text
    assert await _stored(connection) == before


async def test_plan_of_a_missing_action_or_without_plan_is_404_and_delete_removes_it(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    missing = app.url_path_for("get_financing_plan", action_id=MISSING)
    assert_problem(await client.get(missing), 404)
    assert_problem(await client.put(missing, json=plan([]), headers=admin), 404)
    action = await make_action(client, admin)
    url = app.url_path_for("get_financing_plan", action_id=action["id"])
    assert_problem(await client.get(url), 404)
    etag = (await client.put(url, json=plan([]), headers=admin)).json()["etag"]
    assert_problem(await client.delete(url, headers=admin | {"If-Match": '"stale-1"'}), 412)
    assert (await client.delete(url, headers=admin | {"If-Match": etag})).status_code == 204
    assert_problem(await client.get(url), 404)


async def test_cube_counts_a_plan_once_in_its_summary_whatever_priorities_and_csv_twins_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    chantiers = (await client.get("/v1/chantiers", params={"limit": 500})).json()["items"]
    shared = next(c for c in chantiers if len(c["priority_ids"]) >= 2)
    action = await make_action(client, admin, chantier_id=shared["id"])
    bdt = await partner_id(client, "BDT")
    url = f"/v1/actions/{action['id']}/financing-plan"
    await client.put(url, json=plan([(bdt, "loan", "400.00")]), headers=admin)
    params = {"drilldown": "priority", "action": action["id"]}
    cube = (await client.get("/v1/aggregates/financing", params=params)).json()
    assert len(cube["cells"]) == len(shared["priority_ids"])
    assert all(c["gap"] == "600.00" for c in cube["cells"])
    assert cube["summary"]["gap"] == "600.00"
    assert cube["summary"]["plans"] == 1
    assert cube["overlapping"] is True
    csv = await client.get("/v1/aggregates/financing.csv", params=params | {"decimal": "comma"})
    assert csv.status_code == 200
    lines = csv.text.splitlines()
    assert lines[0] == "sep=;"
    assert lines[1].split(";")[-7:] == [
        "total_cost",
        "eligible_cost",
        "planned",
        "secured",
        "gap",
        "leverage",
        "plans",
    ]
    assert len(lines) == 2 + len(shared["priority_ids"])
    assert all(line.endswith(";1200,00;1000,00;400,00;0,00;600,00;;1") for line in lines[2:])
