"""Commitments over HTTP: money in and out, validation, ETags, pagination and filters."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, count, pointers
from tests.factories import make_action, make_commitment, partner_id


async def test_create_commitment_returns_201_location_etag_and_money_strings(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    body = {
        "action_id": action["id"],
        "partner_id": bdt,
        "external_ref": "BDT-2024-1",
        "year": 2024,
        "amount": "350000000",
        "disbursed_amount": "0.5",
        "instrument": "loan",
        "status": "committed",
        "signed_on": "2024-03-15",
    }
    response = await client.post(app.url_path_for("create_commitment"), json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == app.url_path_for(
        "get_commitment", commitment_id=created["id"]
    )
    assert response.headers["ETag"] == created["etag"]
    assert created["amount"] == "350000000.00"
    assert created["disbursed_amount"] == "0.50"
    fetched = await client.get(response.headers["Location"])
    assert fetched.json() == created
    assert fetched.headers["ETag"] == created["etag"]


BAD_INPUTS = [
    ("three decimals", {"amount": "10.123"}, "/amount"),
    ("JSON number", {"amount": 10.5}, "/amount"),
    ("NaN", {"amount": "NaN"}, "/amount"),
    ("exponent", {"amount": "1e3"}, "/amount"),
    ("negative", {"amount": "-5.00"}, "/amount"),
    ("zero", {"amount": "0.00"}, "/amount"),
    ("Infinity", {"amount": "Infinity"}, "/amount"),
    (
        "disbursed above amount",
        {"amount": "10.00", "disbursed_amount": "10.01"},
        "/disbursed_amount",
    ),
    ("year before the period", {"year": 2019}, "/year"),
    ("year after the period", {"year": 2027}, "/year"),
    ("year overflow", {"year": 2**40}, "/year"),
    ("unknown field", {"currency": "EUR"}, "/currency"),
    ("read-only field", {"id": "00000000-0000-0000-0000-000000000000"}, "/id"),
    ("unknown action", {"action_id": "00000000-0000-0000-0000-000000000000"}, "/action_id"),
    ("unknown instrument", {"instrument": "gift"}, "/instrument"),
    ("impossible date", {"signed_on": "2023-02-30"}, "/signed_on"),
    # Found by the schema fuzzing: digits were read as a Unix timestamp (1970-01-01).
    ("date as digits", {"signed_on": "0"}, "/signed_on"),
    ("eu_notified as a number", {"eu_notified": 0}, "/eu_notified"),
    ("siret bad key", {"beneficiary_siret": "21130055300017"}, "/beneficiary_siret"),
    ("siret with spaces", {"beneficiary_siret": "211 300 553 00016"}, "/beneficiary_siret"),
    ("siret too short", {"beneficiary_siret": "2113005530001"}, "/beneficiary_siret"),
    ("siret as number", {"beneficiary_siret": 21130055300016}, "/beneficiary_siret"),
    ("rna without W", {"beneficiary_rna": "133012345"}, "/beneficiary_rna"),
    ("rna too long", {"beneficiary_rna": "W1330123456"}, "/beneficiary_rna"),
    ("empty beneficiary name", {"beneficiary_name": ""}, "/beneficiary_name"),
    ("decision ref spaced", {"decision_ref": " DEL-1"}, "/decision_ref"),
    ("eu_notified not bool", {"eu_notified": "maybe"}, "/eu_notified"),
]


@pytest.mark.parametrize(
    ("case", "override", "pointer"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
async def test_bad_commitment_is_422_naming_the_field_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    case: str,
    override: dict[str, Any],
    pointer: str,
) -> None:
    action = await make_action(client, admin)
    body = {
        "action_id": action["id"],
        "partner_id": await partner_id(client, "BDT"),
        "year": 2024,
        "amount": "100.00",
        "instrument": "grant",
    } | override
    before = await count(connection, "commitments")
    response = await client.post(app.url_path_for("create_commitment"), json=body, headers=admin)
    body_ = assert_problem(response, 422, "VALIDATION_ERROR")
    assert pointer in pointers(body_), body_
    assert await count(connection, "commitments") == before


async def test_patch_changes_only_the_fields_sent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin, label="avant", amount="500.00")
    response = await client.patch(
        app.url_path_for("update_commitment", commitment_id=created["id"]),
        json={"disbursed_amount": "100.00"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["disbursed_amount"] == "100.00"
    assert updated["label"] == "avant"
    assert updated["amount"] == "500.00"
    assert updated["etag"] != created["etag"]
    assert response.headers["ETag"] == updated["etag"]


async def test_patch_disbursed_above_stored_amount_is_422(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin, amount="500.00")
    response = await client.patch(
        app.url_path_for("update_commitment", commitment_id=created["id"]),
        json={"disbursed_amount": "500.01"},
        headers=admin,
    )
    assert pointers(assert_problem(response, 422)) == ["/disbursed_amount"]


async def test_patch_explicit_null_on_required_field_is_422(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin)
    response = await client.patch(
        app.url_path_for("update_commitment", commitment_id=created["id"]),
        json={"amount": None},
        headers=admin,
    )
    assert pointers(assert_problem(response, 422)) == ["/amount"]


async def test_patch_with_stale_etag_is_412_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin)
    url = app.url_path_for("get_commitment", commitment_id=created["id"])
    first = await client.patch(
        url, json={"label": "un"}, headers=admin | {"If-Match": created["etag"]}
    )
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"label": "deux"}, headers=admin | {"If-Match": created["etag"]}
    )
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert (await client.get(url)).json()["label"] == "un"


async def test_two_clients_patching_with_the_same_etag_one_wins_one_gets_412(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_admin: dict[str, str]
) -> None:
    created = await make_commitment(live_client, live_admin)
    url = live_app.url_path_for("get_commitment", commitment_id=created["id"])
    headers = live_admin | {"If-Match": created["etag"]}
    responses = await asyncio.gather(
        live_client.patch(url, json={"disbursed_amount": "1.00"}, headers=headers),
        live_client.patch(url, json={"disbursed_amount": "2.00"}, headers=headers),
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    assert (await live_client.get(url)).json()["disbursed_amount"] == winner["disbursed_amount"]


async def test_get_with_current_etag_in_if_none_match_is_304(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin)
    response = await client.get(
        app.url_path_for("get_commitment", commitment_id=created["id"]),
        headers={"If-None-Match": created["etag"]},
    )
    assert response.status_code == 304


async def test_delete_returns_204_then_404(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin)
    url = app.url_path_for("get_commitment", commitment_id=created["id"])
    assert (await client.delete(url, headers=admin)).status_code == 204
    assert_problem(await client.get(url), 404, "NOT_FOUND")
    assert_problem(await client.delete(url, headers=admin), 404, "NOT_FOUND")


async def test_unknown_commitment_returns_404_problem(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert_problem(
        await client.get(
            app.url_path_for("get_commitment", commitment_id="4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11")
        ),
        404,
    )
    assert_problem(
        await client.get(app.url_path_for("get_commitment", commitment_id="not-a-uuid")), 404
    )


async def test_duplicate_external_ref_for_one_partner_is_409(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = await make_commitment(client, admin, external_ref="REF-1")
    body = {k: first[k] for k in ("action_id", "partner_id", "year", "amount", "instrument")}
    response = await client.post(
        app.url_path_for("create_commitment"), json=body | {"external_ref": "REF-1"}, headers=admin
    )
    assert pointers(assert_problem(response, 409, "CONFLICT")) == ["/external_ref"]
    other = await partner_id(client, "AMP")
    again = await client.post(
        app.url_path_for("create_commitment"),
        json=body | {"external_ref": "REF-1", "partner_id": other},
        headers=admin,
    )
    assert again.status_code == 201


MISSING = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"


@pytest.mark.parametrize("if_match", [None, "stale", "current"])
@pytest.mark.parametrize("route", ["update_commitment", "delete_commitment"])
async def test_partner_key_gets_for_another_partners_commitment_what_a_missing_id_gets(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_key: KeyMaker,
    route: str,
    if_match: str | None,
) -> None:
    """No status, header or word tells a partner key that another partner's commitment exists:
    not a 403 where a missing id is 404, not a 412 carrying the commitment's ETag."""
    foreign = await make_commitment(client, admin, partner_id=await partner_id(client, "AMP"))
    bdt_key = await make_key(Role.partner, "BDT")
    etag = {None: None, "stale": '"000000000000-1"', "current": foreign["etag"]}[if_match]
    headers = bdt_key | ({"If-Match": etag} if etag else {})
    method = "PATCH" if route == "update_commitment" else "DELETE"
    body = {"label": "x"} if method == "PATCH" else None
    answers = [
        await client.request(
            method, app.url_path_for(route, commitment_id=id), json=body, headers=headers
        )
        for id in (foreign["id"], MISSING)
    ]
    on_foreign, on_missing = (assert_problem(a, 404, "NOT_FOUND") for a in answers)
    assert on_foreign["detail"].replace(foreign["id"], MISSING) == on_missing["detail"]
    assert {k: v for k, v in on_foreign.items() if k != "detail"} == {
        k: v for k, v in on_missing.items() if k != "detail"
    }
    assert "etag" not in answers[0].headers
    assert answers[0].headers.keys() == answers[1].headers.keys()
    stored = await client.get(app.url_path_for("get_commitment", commitment_id=foreign["id"]))
    assert stored.json() == foreign


async def _mark_synthetic(connection: AsyncConnection, table: str, id: str) -> None:
    await connection.execute(
        text(f"UPDATE {table} SET synthetic = true WHERE id = CAST(:id AS uuid)"), {"id": id}
    )


@pytest.mark.parametrize(("synthetic", "expected"), [("false", "real"), ("true", "demo"),
                                                     (None, "both")])  # fmt: skip
async def test_synthetic_filter_keeps_only_that_kind_false_included(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    synthetic: str | None,
    expected: str,
) -> None:
    action = await make_action(client, admin)
    real = await make_commitment(client, admin, action_id=action["id"])
    demo = await make_commitment(client, admin, action_id=action["id"])
    await _mark_synthetic(connection, "commitments", demo["id"])
    params = {"action_id": action["id"]} | ({"synthetic": synthetic} if synthetic else {})
    listed = await client.get(app.url_path_for("list_commitments"), params=params)
    assert listed.status_code == 200, listed.text
    ids = {item["id"] for item in listed.json()["items"]}
    wanted = {"real": {real["id"]}, "demo": {demo["id"]}, "both": {real["id"], demo["id"]}}
    assert ids == wanted[expected]


async def test_actions_synthetic_false_leaves_demo_actions_out(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    real, demo = await make_action(client, admin), await make_action(client, admin)
    await _mark_synthetic(connection, "actions", demo["id"])
    url = app.url_path_for("list_actions")
    for synthetic, expected in (("false", real), ("true", demo)):
        params = {"code": [real["code"], demo["code"]], "synthetic": synthetic}
        listed = (await client.get(url, params=params)).json()["items"]
        assert [item["id"] for item in listed] == [expected["id"]]


async def test_unknown_action_and_partner_are_both_named_in_one_422(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    # The year is judged by the action's programme: with no action, only the action is named.
    body = {"action_id": MISSING, "partner_id": MISSING, "year": 2031, "amount": "10.00",
            "instrument": "grant"}  # fmt: skip
    before = await count(connection, "commitments")
    response = await client.post(app.url_path_for("create_commitment"), json=body, headers=admin)
    errors = assert_problem(response, 422, "VALIDATION_ERROR")["errors"]
    assert {e["pointer"]: e["detail"] for e in errors} == {
        "/action_id": "no such action",
        "/partner_id": "no such partner",
    }
    assert await count(connection, "commitments") == before
