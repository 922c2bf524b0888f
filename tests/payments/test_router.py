"""Payments: CRUD with ETags, history and the change feed; the derived disbursed_amount; bad
input refused by pointer with the database untouched; partner keys on their own payments only."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, pointers
from tests.factories import make_commitment, partner_id

MISSING = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"


def _payment(**fields: Any) -> dict[str, Any]:
    return {"paid_on": "2024-06-30", "amount": "100.00"} | fields


async def _state(connection: AsyncConnection, commitment_id: str) -> tuple[Any, ...]:
    """What a refused write must leave as it was: the payments, the commitment, the log."""
    row = await connection.execute(
        text(
            "SELECT (SELECT count(*) FROM payments WHERE commitment_id = c.id),"
            " c.disbursed_amount, c.version, (SELECT count(*) FROM changes),"
            " (SELECT sum(disbursed_sum) FROM commitment_rollups)"
            " FROM commitments c WHERE c.id = CAST(:id AS uuid)"
        ),
        {"id": commitment_id},
    )
    return tuple(row.one())


async def _paid(connection: AsyncConnection, commitment_id: str) -> Any:
    result = await connection.execute(
        text(
            "SELECT coalesce(sum(CASE kind WHEN 'reversal' THEN -amount ELSE amount END), 0)"
            " FROM payments WHERE commitment_id = CAST(:id AS uuid)"
        ),
        {"id": commitment_id},
    )
    return result.scalar_one()


async def test_create_get_update_delete_a_payment_moves_the_derived_total(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, amount="1000.00")
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    created = await client.post(url, json=_payment(external_ref="V-1", label="n°1"), headers=admin)
    assert created.status_code == 201, created.text
    payment = created.json()
    assert created.headers["Location"] == app.url_path_for("get_payment", payment_id=payment["id"])
    assert created.headers["ETag"] == payment["etag"]
    assert payment["partner_id"] == commitment["partner_id"]  # filled by the database
    assert (payment["kind"], payment["amount"], payment["paid_on"]) == (
        "disbursement",
        "100.00",
        "2024-06-30",
    )

    after = (await client.get(f"/v1/commitments/{commitment['id']}")).json()
    assert after["disbursed_amount"] == "100.00"
    assert after["etag"] != commitment["etag"]  # its representation changed: a new version

    got = await client.get(app.url_path_for("get_payment", payment_id=payment["id"]))
    assert got.json() == payment
    cached = await client.get(
        app.url_path_for("get_payment", payment_id=payment["id"]),
        headers={"If-None-Match": payment["etag"]},
    )
    assert cached.status_code == 304

    item = app.url_path_for("update_payment", payment_id=payment["id"])
    stale = await client.patch(item, json={"amount": "150"}, headers=admin | {"If-Match": '"x-1"'})
    assert_problem(stale, 412)
    updated = await client.patch(
        item, json={"amount": "150"}, headers=admin | {"If-Match": payment["etag"]}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["amount"] == "150.00"
    assert (await client.get(f"/v1/commitments/{commitment['id']}")).json()[
        "disbursed_amount"
    ] == "150.00"

    reversal = await client.post(
        url, json=_payment(kind="reversal", amount="50", paid_on="2025-01-10"), headers=admin
    )
    assert reversal.status_code == 201, reversal.text
    listed = await client.get(url, params={"kind": "reversal"})
    assert [p["id"] for p in listed.json()["items"]] == [reversal.json()["id"]]
    everything = (await client.get(url)).json()
    assert [p["paid_on"] for p in everything["items"]] == ["2024-06-30", "2025-01-10"]
    assert (await client.get(f"/v1/commitments/{commitment['id']}")).json()[
        "disbursed_amount"
    ] == "100.00"

    deleted = await client.delete(item, headers=admin)
    assert deleted.status_code == 422  # the reversal alone would make the total negative
    assert pointers(deleted.json()) == ["/amount"]
    assert (
        await client.delete(f"/v1/payments/{reversal.json()['id']}", headers=admin)
    ).status_code == 204
    assert (await client.delete(item, headers=admin)).status_code == 204
    assert (await client.get(item)).status_code == 404
    final = (await client.get(f"/v1/commitments/{commitment['id']}")).json()
    assert final["disbursed_amount"] == "0.00"
    assert await _paid(connection, commitment["id"]) == 0


async def test_history_shows_payments_as_get_does(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    commitment = await make_commitment(client, admin)
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    payment = (await client.post(url, json=_payment(), headers=admin)).json()
    item = app.url_path_for("update_payment", payment_id=payment["id"])
    changed = (await client.patch(item, json={"label": "corrigé"}, headers=admin)).json()
    history = await client.get(app.url_path_for("get_payment_history", resource_id=payment["id"]))
    assert history.status_code == 200, history.text
    versions = history.json()["items"]
    assert [v["op"] for v in versions] == ["create", "update"]
    assert versions[0]["data"] == payment
    assert versions[1]["data"] == changed
    assert versions[1]["changed"] == {"label": {"before": "", "after": "corrigé"}}
    assert versions[1]["actor"]["role"] == "admin"


async def test_disbursed_amount_written_on_a_commitment_records_adjustments(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, amount="1000.00", disbursed_amount="300")
    url = f"/v1/commitments/{commitment['id']}"
    assert commitment["disbursed_amount"] == "300.00"
    payments = (await client.get(f"{url}/payments")).json()["items"]
    assert [(p["kind"], p["amount"]) for p in payments] == [("adjustment", "300.00")]
    assert payments[0]["paid_on"] == max(date.today(), date(2024, 1, 1)).isoformat()

    lower = await client.patch(url, json={"disbursed_amount": "120.50"}, headers=admin)
    assert lower.status_code == 200, lower.text
    assert lower.json()["disbursed_amount"] == "120.50"
    assert lower.json()["etag"].endswith('-2"')  # one version for the write, none more
    same = await client.patch(url, json={"disbursed_amount": "120.50"}, headers=admin)
    assert same.status_code == 200
    amounts = [p["amount"] for p in (await client.get(f"{url}/payments")).json()["items"]]
    assert sorted(amounts) == ["-179.50", "300.00"]  # a lower total: a negative adjustment
    assert str(await _paid(connection, commitment["id"])) == "120.50"


async def test_derived_total_follows_payments_in_the_rollup(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, amount="500.00", status="committed")
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    await client.post(url, json=_payment(amount="200"), headers=admin)
    await client.post(url, json=_payment(kind="adjustment", amount="-20.5"), headers=admin)
    rollup = await connection.execute(
        text(
            "SELECT (SELECT sum(disbursed_sum) FROM commitment_rollups),"
            " (SELECT sum(disbursed_amount) FROM commitments)"
        )
    )
    rolled, stored = rollup.one()
    assert rolled == stored
    assert str(await _paid(connection, commitment["id"])) == "179.50"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (_payment(amount="1000.01"), "/amount"),  # more than the commitment's amount
        (_payment(kind="reversal", amount="0.01"), "/amount"),  # a negative total
        (_payment(paid_on="2023-12-31"), "/paid_on"),  # before the commitment's year
        (_payment(amount="0"), "/amount"),
        (_payment(amount="-5"), "/amount"),  # only adjustments carry a sign
        (_payment(kind="adjustment", amount="0.00"), "/amount"),
        (_payment(amount=12.5), "/amount"),  # money is a string
        (_payment(amount="1.005"), "/amount"),
        (_payment(paid_on="2024-02-30"), "/paid_on"),
        (_payment(kind="repayment"), "/kind"),
        (_payment(external_ref=" V "), "/external_ref"),
        (_payment(disbursed_amount="1"), "/disbursed_amount"),
        ({"amount": "1.00"}, "/paid_on"),
    ],
)
async def test_bad_payment_is_422_naming_the_field_with_the_database_untouched(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    body: dict[str, Any],
    pointer: str,
) -> None:
    commitment = await make_commitment(client, admin, amount="1000.00")
    before = await _state(connection, commitment["id"])
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    problem = assert_problem(await client.post(url, json=body, headers=admin), 422)
    assert pointers(problem) == [pointer]
    assert await _state(connection, commitment["id"]) == before


async def test_patch_refusals_name_the_field_and_leave_the_payment(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, amount="1000.00")
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    payment = (await client.post(url, json=_payment(), headers=admin)).json()
    before = await _state(connection, commitment["id"])
    item = app.url_path_for("update_payment", payment_id=payment["id"])
    for body, pointer in (
        ({"amount": "1000.01"}, "/amount"),
        ({"kind": "reversal"}, "/amount"),  # the total would fall below zero
        ({"paid_on": "2020-01-01"}, "/paid_on"),
        ({"kind": "adjustment", "amount": "0"}, "/amount"),
        ({"partner_id": MISSING}, "/partner_id"),
    ):
        problem = assert_problem(await client.patch(item, json=body, headers=admin), 422)
        assert pointers(problem) == [pointer], body
    assert await _state(connection, commitment["id"]) == before


async def test_a_commitment_year_cannot_move_past_its_payments(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin, year=2023)
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    await client.post(url, json=_payment(paid_on="2023-05-01"), headers=admin)
    before = await _state(connection, commitment["id"])
    moved = await client.patch(
        f"/v1/commitments/{commitment['id']}", json={"year": 2024}, headers=admin
    )
    assert pointers(assert_problem(moved, 422)) == ["/year"]
    assert await _state(connection, commitment["id"]) == before
    back = await client.patch(
        f"/v1/commitments/{commitment['id']}", json={"year": 2022}, headers=admin
    )
    assert back.status_code == 200, back.text


async def test_payments_of_a_missing_commitment_are_404(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = app.url_path_for("create_payment", commitment_id=MISSING)
    assert_problem(await client.post(url, json=_payment(), headers=admin), 404)
    assert_problem(await client.get(url), 404)
    assert_problem(await client.get(f"/v1/payments/{MISSING}"), 404)


async def test_partner_key_writes_only_its_own_partners_payments(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_key: KeyMaker,
    connection: AsyncConnection,
) -> None:
    bdt_key = await make_key(Role.partner, "BDT")
    amp_key = await make_key(Role.partner, "AMP")
    commitment = await make_commitment(
        client, admin, partner_id=await partner_id(client, "BDT"), amount="1000.00"
    )
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    own = await client.post(url, json=_payment(), headers=bdt_key)
    assert own.status_code == 201, own.text
    before = await _state(connection, commitment["id"])
    foreign = await client.post(url, json=_payment(), headers=amp_key)
    missing = await client.post(
        app.url_path_for("create_payment", commitment_id=MISSING), json=_payment(), headers=admin
    )
    assert_problem(foreign, 404)
    assert foreign.json()["detail"].replace(commitment["id"], MISSING) == missing.json()["detail"]
    item = app.url_path_for("update_payment", payment_id=own.json()["id"])
    assert_problem(await client.patch(item, json={"label": "x"}, headers=amp_key), 404)
    assert_problem(await client.delete(item, headers=amp_key), 404)
    assert await _state(connection, commitment["id"]) == before
    assert (await client.delete(item, headers=bdt_key)).status_code == 204


async def test_idempotency_key_replays_the_first_payment(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    commitment = await make_commitment(client, admin)
    url = app.url_path_for("create_payment", commitment_id=commitment["id"])
    headers = admin | {"Idempotency-Key": "pay-once"}
    first = await client.post(url, json=_payment(), headers=headers)
    again = await client.post(url, json=_payment(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert str(await _paid(connection, commitment["id"])) == "100.00"
    other = await client.post(url, json=_payment(amount="5"), headers=headers)
    assert_problem(other, 422)


async def test_list_filters_by_dates_written_as_dates_only(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Found by the schema fuzzing: `paid_to=0` was read as a timestamp (1970-01-01) and
    answered 200; a date filter takes YYYY-MM-DD and nothing else."""
    commitment = await make_commitment(client, admin, amount="1000.00")
    url = app.url_path_for("list_payments", commitment_id=commitment["id"])
    for day in ("2024-03-01", "2024-09-01"):
        made = await client.post(url, json=_payment(paid_on=day), headers=admin)
        assert made.status_code == 201, made.text
    summer = await client.get(url, params={"paid_from": "2024-06-01", "paid_to": "2024-12-31"})
    assert [p["paid_on"] for p in summer.json()["items"]] == ["2024-09-01"]
    for bad in ("0", "1717200000", "2024-6-1"):
        body = assert_problem(await client.get(url, params={"paid_to": bad}), 400)
        assert pointers(body) == ["paid_to"]
