"""The schedule rules in the database, whatever writes: the deferred check at commit, the
default schedule and the single line that follows, on the partner sync's bulk path too."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import ValidationFailed, database_error
from tests.conftest import assert_problem, pointers
from tests.factories import make_action, make_commitment, partner_id

NOW = text("SET CONSTRAINTS ALL IMMEDIATE")
DEFERRED = text("SET CONSTRAINTS ALL DEFERRED")


async def _check_now(connection: AsyncConnection) -> None:
    """What commit would check, checked now (the test's transaction never commits); then
    deferred again, as in a real transaction, where the checks run after every trigger."""
    await connection.execute(NOW)
    await connection.execute(DEFERRED)


async def _lines(connection: AsyncConnection, id: str) -> list[tuple[int, str]]:
    rows = await connection.execute(
        text(
            "SELECT year, amount::text FROM schedule_lines WHERE commitment_id = :id ORDER BY year"
        ),
        {"id": id},
    )
    return [(row[0], row[1]) for row in rows]


async def _refused(connection: AsyncConnection, *statements: str, **params: Any) -> IntegrityError:
    """Run the statements in a savepoint and check at once: the database's refusal."""
    refused = None
    try:
        async with connection.begin_nested():
            for statement in statements:
                await connection.execute(text(statement), params)
            await connection.execute(NOW)
    except IntegrityError as exc:
        refused = exc
    await connection.execute(DEFERRED)
    assert refused is not None, "the database accepted it"
    return refused


async def test_the_deferred_check_refuses_a_direct_write_that_breaks_the_sum(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1000.00")
    id = commitment["id"]
    refused = await _refused(
        connection, "UPDATE schedule_lines SET amount = amount + 1 WHERE commitment_id = :id", id=id
    )
    error = database_error(refused)
    assert isinstance(error, ValidationFailed)
    assert error.errors is not None
    assert [e.pointer for e in error.errors] == ["/lines"]
    assert "1000.00" not in error.detail  # the database's text stays inside
    # No lines at all, a line before the commitment's year: refused too.
    await _refused(connection, "DELETE FROM schedule_lines WHERE commitment_id = :id", id=id)
    before = await _refused(
        connection,
        "UPDATE schedule_lines SET year = 2023 WHERE commitment_id = :id",
        id=id,
    )
    cause = getattr(before.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    assert name == "schedule_lines_not_before_commitment_year_check"
    mapped = database_error(before)
    assert mapped is not None
    assert mapped.errors is not None
    assert [e.pointer for e in mapped.errors] == ["/lines"]
    # Moving the commitment's year past its lines: refused (several lines do not follow).
    await connection.execute(
        text("UPDATE schedule_lines SET amount = 400 WHERE commitment_id = :id"), {"id": id}
    )
    await connection.execute(
        text("INSERT INTO schedule_lines (commitment_id, year, amount) VALUES (:id, 2025, 600)"),
        {"id": id},
    )
    await _check_now(connection)
    await _refused(connection, "UPDATE commitments SET year = 2025 WHERE id = :id", id=id)
    await _refused(connection, "UPDATE commitments SET amount = 1001 WHERE id = :id", id=id)
    assert await _lines(connection, id) == [(2024, "400.00"), (2025, "600.00")]


async def test_amount_and_lines_changed_in_one_transaction_pass_the_check(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1000.00")
    id = commitment["id"]
    async with connection.begin_nested():
        await connection.execute(
            text("UPDATE schedule_lines SET amount = 300 WHERE commitment_id = :id"), {"id": id}
        )
        await connection.execute(
            text(
                "INSERT INTO schedule_lines (commitment_id, year, amount) VALUES (:id, 2026, 900)"
            ),
            {"id": id},
        )
        await connection.execute(
            text("UPDATE commitments SET amount = 1200 WHERE id = :id"), {"id": id}
        )
        await _check_now(connection)
    assert await _lines(connection, id) == [(2024, "300.00"), (2026, "900.00")]


async def test_a_single_line_follows_its_commitment_on_any_write_path(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2024, amount="1000.00")
    id = commitment["id"]
    await connection.execute(
        text("UPDATE commitments SET amount = 750.25, year = 2025 WHERE id = :id"), {"id": id}
    )
    await _check_now(connection)
    assert await _lines(connection, id) == [(2025, "750.25")]
    # A line later than its commitment's year stays there when the year moves below it.
    await connection.execute(
        text("UPDATE schedule_lines SET year = 2027 WHERE commitment_id = :id"), {"id": id}
    )
    await connection.execute(text("UPDATE commitments SET year = 2026 WHERE id = :id"), {"id": id})
    await _check_now(connection)
    assert await _lines(connection, id) == [(2027, "750.25")]
    versions = await connection.execute(
        text(
            "SELECT number, kind, reason FROM schedule_versions WHERE commitment_id = :id"
            " ORDER BY number"
        ),
        {"id": id},
    )
    assert [tuple(v) for v in versions] == [
        (1, "initial", None),
        (2, "revised", "Follows the commitment: amount 1000.00 to 750.25, year 2024 to 2025"),
    ]  # the year 2026 left the line in 2027 as it was: no version


def _items(action_id: str, count: int, amount: str = "1000.00") -> list[dict[str, Any]]:
    return [
        {
            "external_ref": f"SCHED-{n:05d}",
            "action_id": action_id,
            "year": 2021 + n % 5,
            "amount": amount,
            "instrument": "loan",
        }
        for n in range(count)
    ]


async def test_the_partner_sync_gives_every_commitment_its_default_schedule(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitments", partner_id=bdt)
    items = _items(action, 2000)
    response = await client.put(url, json={"items": items}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2000
    counts = await connection.execute(
        text(
            "SELECT count(*) FILTER (WHERE l.year = c.year AND l.amount = c.amount),"
            " count(*) FILTER (WHERE v.number = 1 AND v.kind = 'initial'"
            "   AND v.lines = jsonb_build_array(jsonb_build_object('year', c.year,"
            "                                                      'amount', c.amount::text)))"
            " FROM commitments c JOIN schedule_lines l ON l.commitment_id = c.id"
            " JOIN schedule_versions v ON v.commitment_id = c.id"
            " WHERE c.external_ref LIKE 'SCHED-%'"
        )
    )
    assert tuple(counts.one()) == (2000, 2000)
    await _check_now(connection)
    # The same batch with new amounts: every one-line schedule follows.
    response = await client.put(url, json={"items": _items(action, 2000, "1200.00")}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 2000
    followed = await connection.execute(
        text(
            "SELECT count(*) FROM commitments c JOIN schedule_lines l ON l.commitment_id = c.id"
            " WHERE c.external_ref LIKE 'SCHED-%' AND l.amount = 1200"
        )
    )
    assert followed.scalar_one() == 2000
    await _check_now(connection)


async def test_the_partner_sync_refuses_an_amount_its_schedule_of_several_lines_cannot_follow(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitments", partner_id=bdt)
    items = _items(action, 5)
    assert (await client.put(url, json={"items": items}, headers=admin)).status_code == 200
    ref = await connection.execute(
        text("SELECT id, year FROM commitments WHERE external_ref = 'SCHED-00003'")
    )
    id, year = ref.one()
    lines = [{"year": year, "amount": "400.00"}, {"year": year + 1, "amount": "600.00"}]
    put = await client.put(
        app.url_path_for("put_schedule", commitment_id=str(id)),
        json={"lines": lines},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    changed = [item | {"amount": "1100.00"} for item in items]
    response = await client.put(url, json={"items": changed}, headers=admin)
    body = assert_problem(response, 422)
    assert pointers(body) == ["/items/3/amount"]
    amounts = await connection.execute(
        text("SELECT DISTINCT amount::text FROM commitments WHERE external_ref LIKE 'SCHED-%'")
    )
    assert amounts.scalars().all() == ["1000.00"]  # nothing written, the others neither
    one = await client.put(
        app.url_path_for("put_commitment", partner_id=bdt, external_ref="SCHED-00003"),
        json={k: v for k, v in changed[3].items() if k != "external_ref"},
        headers=admin,
    )
    assert pointers(assert_problem(one, 422)) == ["/amount"]
