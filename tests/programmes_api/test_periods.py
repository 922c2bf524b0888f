"""The period is the programme's: a commitment's or a target's year lies in its own programme's
period (API: 422 before any write; database: the (programme_id, year) foreign keys), and a
period is not narrowed while years it drops are in use (409 naming how many)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem
from tests.factories import make_action, make_commitment, partner_id
from tests.programmes_api.test_router import BODY


async def checksum(connection: AsyncConnection) -> dict[str, str]:
    """An md5 of every row of every table: equal before and after means nothing was written."""
    names = (
        await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        )
    ).scalars()
    sums = {}
    for name in list(names):
        rows = "coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
        query = text(f'SELECT md5({rows}) FROM "{name}" t')
        sums[name] = str((await connection.execute(query)).scalar_one())
    return sums


async def _later_programme(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 2023–2027 programme and a chantier of it (no priority, no target)."""
    programme = (await client.post("/v1/programmes", json=BODY, headers=headers)).json()
    chantier = await client.post(
        "/v1/chantiers",
        json={
            "programme_id": programme["id"],
            "number": 1,
            "code": "RENOVATION",
            "name": "Rénovation",
        },
        headers=headers,
    )
    assert chantier.status_code == 201, chantier.text
    return programme, chantier.json()


async def test_a_commitment_outside_its_programmes_period_is_a_422_and_nothing_is_written(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    _, chantier = await _later_programme(client, editor)
    action = await make_action(client, editor, chantier_id=chantier["id"])
    bdt = await partner_id(client, "BDT")
    body = {"action_id": action["id"], "partner_id": bdt, "year": 2021, "amount": "10.00",
            "instrument": "grant"}  # fmt: skip
    before = await checksum(connection)
    response = await client.post("/v1/commitments", json=body, headers=editor)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"] == [
        {"pointer": "/year", "detail": "is outside the programme period 2023–2027"}
    ]
    assert await checksum(connection) == before
    # 2021 is inside the first programme's period (2020–2026), and 2027 inside this one's.
    created = await client.post("/v1/commitments", json=body | {"year": 2027}, headers=editor)
    assert created.status_code == 201, created.text


async def test_the_database_refuses_a_commitment_outside_its_programmes_period(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    _, chantier = await _later_programme(client, editor)
    action = await make_action(client, editor, chantier_id=chantier["id"])
    bdt = await partner_id(client, "BDT")
    insert = text(
        "INSERT INTO commitments (action_id, partner_id, year, amount, instrument, version)"
        " VALUES (CAST(:action AS uuid), CAST(:partner AS uuid), :year, 10, 'grant', 1)"
    )
    async with connection.begin_nested():
        await connection.execute(insert, {"action": action["id"], "partner": bdt, "year": 2024})
    with pytest.raises(IntegrityError, match="commitments_programme_id_year_fkey"):
        async with connection.begin_nested():
            await connection.execute(insert, {"action": action["id"], "partner": bdt, "year": 2021})


async def test_moving_a_commitment_to_an_action_of_another_period_names_the_action(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, editor, year=2021)
    _, chantier = await _later_programme(client, editor)
    action = await make_action(client, editor, chantier_id=chantier["id"])
    before = await checksum(connection)
    response = await client.patch(
        f"/v1/commitments/{commitment['id']}", json={"action_id": action["id"]}, headers=editor
    )
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert [e["pointer"] for e in problem["errors"]] == ["/action_id"]
    assert await checksum(connection) == before


async def test_a_chantier_target_outside_its_programmes_period_is_refused(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    programme, chantier = await _later_programme(client, editor)
    targets = [{"year": 2023, "amount": "5.00"}, {"year": 2022, "amount": "5.00"}]
    before = await checksum(connection)
    response = await client.patch(
        f"/v1/chantiers/{chantier['id']}", json={"targets": targets}, headers=editor
    )
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"] == [
        {"pointer": "/targets/1/year", "detail": "is outside the programme period 2023–2027"}
    ]
    assert await checksum(connection) == before
    with pytest.raises(IntegrityError, match="chantier_targets_programme_id_year_fkey"):
        async with connection.begin_nested():
            await connection.execute(
                text(
                    "INSERT INTO chantier_targets (chantier_id, year, amount)"
                    " VALUES (CAST(:id AS uuid), 2022, 5)"
                ),
                {"id": chantier["id"]},
            )
    held = await connection.execute(
        text("SELECT year FROM programme_years WHERE programme_id = CAST(:id AS uuid)"),
        {"id": programme["id"]},
    )
    assert sorted(held.scalars()) == [2023, 2024, 2025, 2026, 2027]


async def test_narrowing_a_period_in_use_is_a_409_naming_how_many(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    programme, chantier = await _later_programme(client, editor)
    action = await make_action(client, editor, chantier_id=chantier["id"])
    for year in (2023, 2026, 2027):
        await make_commitment(client, editor, action_id=action["id"], year=year)
    targets = [{"year": 2027, "amount": "5.00"}]
    patched = await client.patch(
        f"/v1/chantiers/{chantier['id']}", json={"targets": targets}, headers=editor
    )
    assert patched.status_code == 200, patched.text
    url = f"/v1/programmes/{programme['id']}"
    before = await checksum(connection)
    response = await client.patch(url, json={"end_year": 2025}, headers=editor)
    problem = assert_problem(response, 409, "PERIOD_IN_USE")
    assert problem["detail"].startswith("2 commitment(s) and 1 chantier target(s)")
    assert [e["pointer"] for e in problem["errors"]] == ["/end_year"]
    assert await checksum(connection) == before
    # The database refuses it too, whoever writes.
    with pytest.raises(IntegrityError, match="programme_years"):
        async with connection.begin_nested():
            await connection.execute(
                text("UPDATE programmes SET end_year = 2025 WHERE id = CAST(:id AS uuid)"),
                {"id": programme["id"]},
            )
    # Widening, and narrowing to years nothing uses, are fine; the years follow.
    for period, years in (
        ({"start_year": 2022}, list(range(2022, 2028))),
        ({"start_year": 2023, "end_year": 2027}, list(range(2023, 2028))),
    ):
        changed = await client.patch(url, json=period, headers=editor)
        assert changed.status_code == 200, changed.text
        held = await connection.execute(
            text("SELECT year FROM programme_years WHERE programme_id = CAST(:id AS uuid)"),
            {"id": programme["id"]},
        )
        assert sorted(held.scalars()) == years


async def test_the_partner_sync_names_each_item_outside_its_programmes_period(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    _, chantier = await _later_programme(client, admin)
    later = await make_action(client, admin, chantier_id=chantier["id"])
    earlier = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    items = [
        {"external_ref": "A", "action_id": earlier["id"], "year": 2021},
        {"external_ref": "B", "action_id": later["id"], "year": 2021},
        {"external_ref": "C", "action_id": later["id"], "year": 2027},
        {"external_ref": "D", "action_id": earlier["id"], "year": 2027},
    ]
    body = {"items": [i | {"amount": "10.00", "instrument": "loan"} for i in items]}
    before = await checksum(connection)
    response = await client.put(f"/v1/partners/{bdt}/commitments", json=body, headers=admin)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"] == [
        {"pointer": "/items/1/year", "detail": "is outside the programme period 2023–2027"},
        {"pointer": "/items/3/year", "detail": "is outside the programme period 2020–2026"},
    ]
    assert await checksum(connection) == before
    one = await client.put(
        f"/v1/partners/{bdt}/commitments/B",
        json={"action_id": later["id"], "year": 2022, "amount": "1.00", "instrument": "loan"},
        headers=admin,
    )
    assert assert_problem(one, 422, "VALIDATION_ERROR")["errors"][0]["pointer"] == "/year"


async def test_codes_and_numbers_are_unique_per_programme(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    programme, _ = await _later_programme(client, editor)
    # EMPLOI and chantier 1 exist in the first programme: this one may have its own.
    priority = await client.post(
        "/v1/priorities",
        json={"programme_id": programme["id"], "code": "EMPLOI", "name": "Emploi"},
        headers=editor,
    )
    assert priority.status_code == 201, priority.text
    again = await client.post(
        "/v1/priorities",
        json={"programme_id": programme["id"], "code": "EMPLOI", "name": "Emploi bis"},
        headers=editor,
    )
    assert assert_problem(again, 409, "CONFLICT")["errors"][0]["pointer"] == "/code"
    twin = await client.post(
        "/v1/chantiers",
        json={"programme_id": programme["id"], "number": 1, "code": "AUTRE", "name": "Autre"},
        headers=editor,
    )
    assert assert_problem(twin, 409, "CONFLICT")["errors"][0]["pointer"] == "/number"


async def test_moving_an_action_whose_years_its_new_programme_leaves_out_is_refused(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, editor, year=2021)
    _, chantier = await _later_programme(client, editor)
    url = f"/v1/actions/{commitment['action_id']}"
    before = await checksum(connection)
    response = await client.patch(url, json={"chantier_id": chantier["id"]}, headers=editor)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"] == [
        {
            "pointer": "/chantier_id",
            "detail": "is of a programme whose period 2023–2027 leaves out 1 of the action's "
            "commitments",
        }
    ]
    assert await checksum(connection) == before
    with pytest.raises(IntegrityError, match="commitments_programme_id_year_fkey"):
        async with connection.begin_nested():
            await connection.execute(
                text(
                    "UPDATE actions SET chantier_id = CAST(:c AS uuid) WHERE id = CAST(:a AS uuid)"
                ),
                {"c": chantier["id"], "a": commitment["action_id"]},
            )
