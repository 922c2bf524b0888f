"""Schedules over HTTP: the default one, versions, If-Match, and every bad input a 422 naming
the field with nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, pointers
from tests.factories import make_commitment, partner_id

THREE_YEARS = [
    {"year": 2024, "amount": "200000.00"},
    {"year": 2025, "amount": "500000.00"},
    {"year": 2026, "amount": "300000.00"},
]


async def _schedule(app: FastAPI, client: httpx.AsyncClient, id: str) -> httpx.Response:
    return await client.get(app.url_path_for("get_schedule", commitment_id=id))


async def _versions(app: FastAPI, client: httpx.AsyncClient, id: str) -> list[dict[str, Any]]:
    response = await client.get(app.url_path_for("list_schedule_versions", commitment_id=id))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _checked_at_commit(connection: AsyncConnection) -> None:
    """What the database checks at commit, checked now (the test's transaction never commits)."""
    await connection.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await connection.execute(text("SET CONSTRAINTS ALL DEFERRED"))


async def test_a_new_commitment_is_paid_in_its_own_year_as_version_1_initial(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1250.50")
    response = await _schedule(app, client, commitment["id"])
    assert response.status_code == 200, response.text
    schedule = response.json()
    assert schedule["lines"] == [{"year": 2024, "amount": "1250.50"}]
    assert (schedule["number"], schedule["kind"], schedule["reason"]) == (1, "initial", None)
    assert schedule["commitment_id"] == commitment["id"]
    assert schedule["created_by"] == "test admin"
    assert response.headers["ETag"] == schedule["etag"]
    again = await client.get(
        app.url_path_for("get_schedule", commitment_id=commitment["id"]),
        headers={"If-None-Match": schedule["etag"]},
    )
    assert again.status_code == 304
    await _checked_at_commit(connection)


async def test_create_with_a_schedule_stores_it_as_the_initial_version(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(
        client, admin, schedule={"lines": list(reversed(THREE_YEARS)), "reason": "Voted AP"}
    )
    schedule = (await _schedule(app, client, commitment["id"])).json()
    assert schedule["lines"] == THREE_YEARS  # in year order
    assert (schedule["number"], schedule["kind"], schedule["reason"]) == (1, "initial", "Voted AP")
    [version] = await _versions(app, client, commitment["id"])
    assert version["lines"] == THREE_YEARS
    await _checked_at_commit(connection)


async def test_put_writes_a_revised_version_and_lists_every_version_with_who_and_when(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    commitment = await make_commitment(client, admin)
    first = await _schedule(app, client, commitment["id"])
    editor = await make_key(Role.editor)
    url = app.url_path_for("put_schedule", commitment_id=commitment["id"])
    body = {"lines": THREE_YEARS, "reason": "Works slipped a year"}
    response = await client.put(
        url, json=body, headers=editor | {"If-Match": first.headers["ETag"]}
    )
    assert response.status_code == 200, response.text
    written = response.json()
    assert (written["number"], written["kind"], written["reason"]) == (
        2,
        "revised",
        "Works slipped a year",
    )
    assert written["lines"] == THREE_YEARS
    assert response.headers["ETag"] == written["etag"] != first.headers["ETag"]
    assert (await _schedule(app, client, commitment["id"])).json() == written
    versions = await _versions(app, client, commitment["id"])
    assert [(v["number"], v["kind"], v["created_by"]) for v in versions] == [
        (1, "initial", "test admin"),
        (2, "revised", "test editor"),
    ]
    assert versions[0]["lines"] == [{"year": 2024, "amount": "1000000.00"}]
    assert versions[0]["created_at"] <= versions[1]["created_at"]


async def test_put_with_a_stale_etag_is_412_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    commitment = await make_commitment(client, admin)
    stale = (await _schedule(app, client, commitment["id"])).headers["ETag"]
    url = app.url_path_for("put_schedule", commitment_id=commitment["id"])
    first = await client.put(url, json={"lines": THREE_YEARS}, headers=admin | {"If-Match": stale})
    assert first.status_code == 200, first.text
    lines = [{"year": 2024, "amount": "1000000.00"}]
    response = await client.put(url, json={"lines": lines}, headers=admin | {"If-Match": stale})
    assert_problem(response, 412)
    assert response.headers["ETag"] == first.headers["ETag"]
    assert len(await _versions(app, client, commitment["id"])) == 2


async def test_the_current_lines_sent_again_write_no_version(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    commitment = await make_commitment(client, admin, schedule={"lines": THREE_YEARS})
    url = app.url_path_for("put_schedule", commitment_id=commitment["id"])
    response = await client.put(url, json={"lines": THREE_YEARS}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["number"] == 1
    patched = await client.patch(
        app.url_path_for("update_commitment", commitment_id=commitment["id"]),
        json={"label": "Same schedule", "schedule": {"lines": list(reversed(THREE_YEARS))}},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert len(await _versions(app, client, commitment["id"])) == 1


BAD_SCHEDULES = [
    (
        "lines that do not sum to the amount",
        [{"year": 2024, "amount": "999999.99"}],
        "/lines",
    ),
    (
        "a line before the commitment's year",
        [{"year": 2024, "amount": "900000.00"}, {"year": 2023, "amount": "100000.00"}],
        "/lines/1/year",
    ),
    (
        "a duplicated year",
        [
            {"year": 2025, "amount": "500000.00"},
            {"year": 2026, "amount": "250000.00"},
            {"year": 2025, "amount": "250000.00"},
        ],
        "/lines/2/year",
    ),
    ("empty lines", [], "/lines"),
    (
        "a zero amount",
        [{"year": 2024, "amount": "0.00"}, {"year": 2025, "amount": "1000000.00"}],
        "/lines/0/amount",
    ),
    (
        "a negative amount",
        [{"year": 2024, "amount": "-1.00"}, {"year": 2025, "amount": "1000001.00"}],
        "/lines/0/amount",
    ),
    ("a JSON number", [{"year": 2024, "amount": 1000000}], "/lines/0/amount"),
]


@pytest.mark.parametrize(
    ("case", "lines", "pointer"), BAD_SCHEDULES, ids=[c[0] for c in BAD_SCHEDULES]
)
async def test_bad_schedule_is_422_naming_the_field_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    case: str,
    lines: list[dict[str, Any]],
    pointer: str,
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1000000.00")
    url = app.url_path_for("put_schedule", commitment_id=commitment["id"])
    response = await client.put(url, json={"lines": lines}, headers=admin)
    body = assert_problem(response, 422)
    assert pointer in pointers(body), body
    assert len(await _versions(app, client, commitment["id"])) == 1
    assert (await _schedule(app, client, commitment["id"])).json()["lines"] == [
        {"year": 2024, "amount": "1000000.00"}
    ]
    # The same schedule in the commitment's create body: the same 422 under /schedule.
    created = await client.post(
        app.url_path_for("create_commitment"),
        json={
            "action_id": commitment["action_id"],
            "partner_id": commitment["partner_id"],
            "year": 2024,
            "amount": "1000000.00",
            "instrument": "loan",
            "external_ref": "SCHEDULE-BAD",
            "schedule": {"lines": lines},
        },
        headers=admin,
    )
    body = assert_problem(created, 422)
    assert f"/schedule{pointer}" in pointers(body), body
    stored = await connection.execute(
        text("SELECT count(*) FROM commitments WHERE external_ref = 'SCHEDULE-BAD'")
    )
    assert stored.scalar_one() == 0


async def test_an_amount_change_on_a_single_line_schedule_moves_the_line_with_a_reason(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1000.00")
    url = app.url_path_for("update_commitment", commitment_id=commitment["id"])
    response = await client.patch(url, json={"amount": "1500.00", "year": 2025}, headers=admin)
    assert response.status_code == 200, response.text
    schedule = (await _schedule(app, client, commitment["id"])).json()
    assert schedule["lines"] == [{"year": 2025, "amount": "1500.00"}]
    assert (schedule["number"], schedule["kind"]) == (2, "revised")
    assert (
        schedule["reason"] == "Follows the commitment: amount 1000.00 to 1500.00, year 2024 to 2025"
    )
    assert schedule["created_by"] == "test admin"
    await _checked_at_commit(connection)


async def test_an_amount_change_on_a_schedule_of_several_lines_is_422_at_amount(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    commitment = await make_commitment(client, admin, schedule={"lines": THREE_YEARS})
    url = app.url_path_for("update_commitment", commitment_id=commitment["id"])
    response = await client.patch(url, json={"amount": "1100000.00"}, headers=admin)
    body = assert_problem(response, 422)
    assert pointers(body) == ["/amount"]
    assert "send the new schedule with it" in body["errors"][0]["detail"]
    moved = await client.patch(url, json={"year": 2025}, headers=admin)
    assert pointers(assert_problem(moved, 422)) == ["/year"]
    fetched = await client.get(app.url_path_for("get_commitment", commitment_id=commitment["id"]))
    assert (fetched.json()["amount"], fetched.json()["year"]) == ("1000000.00", 2024)
    assert (await _schedule(app, client, commitment["id"])).json()["lines"] == THREE_YEARS


async def test_amount_and_schedule_change_in_one_patch_with_one_new_version(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, schedule={"lines": THREE_YEARS})
    url = app.url_path_for("update_commitment", commitment_id=commitment["id"])
    lines = [{"year": 2025, "amount": "600000.00"}, {"year": 2027, "amount": "600000.00"}]
    body = {"amount": "1200000.00", "year": 2025, "schedule": {"lines": lines, "reason": "Avenant"}}
    response = await client.patch(url, json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == "1200000.00"
    versions = await _versions(app, client, commitment["id"])
    assert [(v["number"], v["reason"]) for v in versions] == [(1, None), (2, "Avenant")]
    assert (await _schedule(app, client, commitment["id"])).json()["lines"] == lines
    await _checked_at_commit(connection)
    # A single line sent with a new amount: the line is the one sent, and no second version.
    single = await make_commitment(client, admin, year=2024, amount="10.00")
    url = app.url_path_for("update_commitment", commitment_id=single["id"])
    lines = [{"year": 2026, "amount": "20.00"}]
    response = await client.patch(
        url, json={"amount": "20.00", "schedule": {"lines": lines}}, headers=admin
    )
    assert response.status_code == 200, response.text
    versions = await _versions(app, client, single["id"])
    assert [(v["number"], v["lines"]) for v in versions][-1] == (2, lines)
    assert len(versions) == 2
    await _checked_at_commit(connection)


async def test_a_schedule_in_a_patch_is_checked_against_the_new_amount(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    commitment = await make_commitment(client, admin, schedule={"lines": THREE_YEARS})
    url = app.url_path_for("update_commitment", commitment_id=commitment["id"])
    response = await client.patch(
        url, json={"amount": "1.00", "schedule": {"lines": THREE_YEARS}}, headers=admin
    )
    assert pointers(assert_problem(response, 422)) == ["/schedule/lines"]
    assert len(await _versions(app, client, commitment["id"])) == 1


async def test_another_partners_commitment_answers_like_a_missing_one(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    commitment = await make_commitment(client, admin, partner_id=await partner_id(client, "BDT"))
    amp = await make_key(Role.partner, "AMP")
    bdt = await make_key(Role.partner, "BDT")
    url = app.url_path_for("put_schedule", commitment_id=commitment["id"])
    foreign = await client.put(url, json={"lines": THREE_YEARS}, headers=amp)
    assert_problem(foreign, 404)
    own = await client.put(url, json={"lines": THREE_YEARS}, headers=bdt)
    assert own.status_code == 200, own.text
    missing = app.url_path_for("get_schedule", commitment_id="00000000-0000-4000-8000-000000000000")
    assert_problem(await client.get(missing), 404)


async def test_a_create_with_a_schedule_replays_under_its_idempotency_key(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    first = await make_commitment(client, admin)
    body = {
        "action_id": first["action_id"],
        "partner_id": first["partner_id"],
        "external_ref": "SCHEDULE-IDEM",
        "year": 2024,
        "amount": "1000000.00",
        "instrument": "loan",
        "schedule": {"lines": THREE_YEARS},
    }
    headers = admin | {"Idempotency-Key": "schedule-create-1"}
    url = app.url_path_for("create_commitment")
    created = await client.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    replayed = await client.post(url, json=body, headers=headers)
    assert replayed.status_code == 201
    assert replayed.json() == created.json()
    assert len(await _versions(app, client, created.json()["id"])) == 1
    stored = await connection.execute(
        text(
            "SELECT count(*) FROM schedule_lines l JOIN commitments c ON c.id = l.commitment_id"
            " WHERE c.external_ref = 'SCHEDULE-IDEM'"
        )
    )
    assert stored.scalar_one() == 3
