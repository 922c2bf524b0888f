"""Partners push payments by their own references: one by PUT, or a batch all or nothing with
every bad item reported by pointer."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.base import etag_of
from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, pointers
from tests.factories import make_action, partner_id


async def _commitments(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], *refs: str
) -> dict[str, dict[str, Any]]:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    made = {}
    for ref in refs:
        url = app.url_path_for("put_commitment", partner_id=bdt, external_ref=ref)
        body = {"action_id": action["id"], "year": 2024, "amount": "100.00", "instrument": "loan"}
        response = await client.put(url, json=body, headers=admin)
        assert response.status_code == 201, response.text
        made[ref] = response.json()
    return made


def _item(ref: str, commitment_ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "commitment_external_ref": commitment_ref,
        "paid_on": "2024-09-01",
        "amount": "10.00",
    } | fields


async def _totals(connection: AsyncConnection) -> tuple[Any, ...]:
    result = await connection.execute(
        text(
            "SELECT (SELECT count(*) FROM payments), (SELECT sum(disbursed_amount) FROM"
            " commitments), (SELECT count(*) FROM changes)"
        )
    )
    return tuple(result.one())


async def test_put_one_creates_then_replaces_then_is_unchanged(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    made = await _commitments(app, client, admin, "C-1")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payment", partner_id=bdt, external_ref="P-1")
    body = {k: v for k, v in _item("P-1", "C-1").items() if k != "external_ref"}
    first = await client.put(url, json=body, headers=admin)
    assert first.status_code == 201, first.text
    payment = first.json()
    assert first.headers["Location"] == f"/v1/payments/{payment['id']}"
    assert payment["commitment_id"] == made["C-1"]["id"]
    same = await client.put(url, json=body, headers=admin)
    assert same.status_code == 200
    assert same.json()["etag"] == payment["etag"]
    stale = await client.put(
        url, json=body | {"amount": "20"}, headers=admin | {"If-Match": '"0-1"'}
    )
    assert_problem(stale, 412)
    changed = await client.put(
        url, json=body | {"amount": "20"}, headers=admin | {"If-Match": payment["etag"]}
    )
    assert changed.status_code == 200
    assert changed.json()["amount"] == "20.00"
    commitment = (await client.get(f"/v1/commitments/{made['C-1']['id']}")).json()
    assert commitment["disbursed_amount"] == "20.00"


async def test_batch_upserts_and_moves_every_total_once(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    made = await _commitments(app, client, admin, "C-1", "C-2")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    items = [_item(f"P-{n}", f"C-{n % 2 + 1}") for n in range(10)]
    first = await client.put(url, json={"items": items}, headers=admin)
    assert first.json() == {"created": 10, "updated": 0, "unchanged": 0}, first.text
    items[0] = items[0] | {"amount": "5.00"}
    items[1] = items[1] | {"kind": "reversal", "amount": "10.00"}
    second = await client.put(url, json={"items": items}, headers=admin)
    assert second.json() == {"created": 0, "updated": 2, "unchanged": 8}
    one = (await client.get(f"/v1/commitments/{made['C-1']['id']}")).json()
    two = (await client.get(f"/v1/commitments/{made['C-2']['id']}")).json()
    assert one["disbursed_amount"] == "45.00"  # 5 + 4 × 10
    assert two["disbursed_amount"] == "30.00"  # -10 + 4 × 10


async def test_bad_batch_reports_every_bad_item_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    await _commitments(app, client, admin, "C-1", "C-2")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    items = [_item(f"P-{n}", "C-2") for n in range(10)]
    items[1] = _item("P-1", "C-1", amount="60.00")
    items[2] = _item("P-2", "C-1", amount="50.00")  # with items[1]: 110 paid on 100
    items[3] = _item("P-3", "C-2", paid_on="2023-12-31")
    items[4] = _item("P-4", "C-2", amount=4)
    items[6] = _item("P-1", "C-2")  # P-1 twice
    items[7] = _item("P-7", "C-404")
    items[8] = _item("P-8", "C-2", kind="reversal", amount="0")
    before = await _totals(connection)
    problem = assert_problem(await client.put(url, json={"items": items}, headers=admin), 422)
    assert pointers(problem) == [
        "/items/1/amount",
        "/items/2/amount",
        "/items/3/paid_on",
        "/items/4/amount",
        "/items/6/external_ref",
        "/items/7/commitment_external_ref",
        "/items/8/amount",
    ]
    assert await _totals(connection) == before


async def test_batch_below_zero_names_the_reversal(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    await _commitments(app, client, admin, "C-1")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    before = await _totals(connection)
    items = [_item("R-1", "C-1", kind="reversal")]
    problem = assert_problem(await client.put(url, json={"items": items}, headers=admin), 422)
    assert pointers(problem) == ["/items/0/amount"]
    assert "below zero" in problem["errors"][0]["detail"]
    assert await _totals(connection) == before


async def test_partner_key_batches_only_its_own_partner(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_key: KeyMaker,
    connection: AsyncConnection,
) -> None:
    await _commitments(app, client, admin, "C-1")
    bdt = await partner_id(client, "BDT")
    amp = await partner_id(client, "AMP")
    amp_key = await make_key(Role.partner, "AMP")
    bdt_key = await make_key(Role.partner, "BDT")
    before = await _totals(connection)
    body = {"items": [_item("P-1", "C-1")]}
    assert_problem(
        await client.put(
            app.url_path_for("put_payments", partner_id=bdt), json=body, headers=amp_key
        ),
        403,
    )
    # Its own partner's path: BDT's commitment references name nothing of AMP's.
    mine = await client.put(
        app.url_path_for("put_payments", partner_id=amp), json=body, headers=amp_key
    )
    assert pointers(assert_problem(mine, 422)) == ["/items/0/commitment_external_ref"]
    assert await _totals(connection) == before
    ok = await client.put(
        app.url_path_for("put_payments", partner_id=bdt), json=body, headers=bdt_key
    )
    assert ok.status_code == 200, ok.text


async def test_batch_of_ten_thousand_is_accepted(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    await _commitments(app, client, admin, "C-1")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    items = [_item(f"P-{n}", "C-1", amount="0.01") for n in range(10_000)]
    response = await client.put(url, json={"items": items}, headers=admin)
    assert response.json() == {"created": 10_000, "updated": 0, "unchanged": 0}
    too_many = await client.put(url, json={"items": [*items, _item("X", "C-1")]}, headers=admin)
    assert_problem(too_many, 422)


async def test_partner_totals_in_commitment_sync_become_adjustments(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """A partner that knows only cumulative totals keeps sending disbursed_amount through the
    commitments' PUT and batch: each difference is one adjustment, none when it is the same."""
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    body = {"action_id": action["id"], "year": 2024, "amount": "100.00", "instrument": "loan"}
    one = app.url_path_for("put_commitment", partner_id=bdt, external_ref="C-1")
    batch = app.url_path_for("put_commitments", partner_id=bdt)

    async def kinds_and_amounts(commitment_id: str) -> list[tuple[str, str]]:
        # One test transaction: every payment has the same created_at, so no order is asked.
        listed = await client.get(f"/v1/commitments/{commitment_id}/payments")
        return sorted((p["kind"], p["amount"]) for p in listed.json()["items"])

    made = (await client.put(one, json=body | {"disbursed_amount": "40"}, headers=admin)).json()
    assert made["disbursed_amount"] == "40.00"
    items = [body | {"external_ref": "C-1", "disbursed_amount": "25.50"}]
    result = await client.put(batch, json={"items": items}, headers=admin)
    assert result.json()["updated"] == 1, result.text
    again = await client.put(batch, json={"items": items}, headers=admin)
    assert again.json()["unchanged"] == 1
    assert await kinds_and_amounts(made["id"]) == [
        ("adjustment", "-14.50"),
        ("adjustment", "40.00"),
    ]
    stored = (await client.get(f"/v1/commitments/{made['id']}")).json()
    assert stored["disbursed_amount"] == "25.50"
    assert stored["etag"].endswith('-2"')  # the batch's write, and nothing more


async def test_batch_logs_one_entry_per_moved_commitment_as_its_get_and_none_when_resent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """The commitments' change capture pairs old and new rows by set difference: each
    commitment whose total a batch moved gets one entry equal to its GET, an untouched one
    none, and the same batch sent again none (its upsert's halves write nothing)."""
    made = await _commitments(app, client, admin, "C-1", "C-2", "C-3")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    one = [_item("P-0", "C-1")]  # a one-row upsert first: the session's first plans are small
    assert (await client.put(url, json={"items": one}, headers=admin)).status_code == 200
    items = one + [_item(f"P-{n}", f"C-{n % 2 + 1}", amount="1.00") for n in range(1, 9)]
    log = text(
        "SELECT resource_id, version, data ->> 'disbursed_amount' FROM changes"
        " WHERE resource = 'commitments' AND op = 'update' ORDER BY id"
    )
    before = (await connection.execute(log)).all()
    batch = await client.put(url, json={"items": items}, headers=admin)
    assert batch.json() == {"created": 8, "updated": 0, "unchanged": 1}, batch.text
    logged = (await connection.execute(log)).all()[len(before) :]
    expected = []
    for ref in ("C-1", "C-2"):
        current = (await client.get(f"/v1/commitments/{made[ref]['id']}")).json()
        expected.append((current["etag"], current["disbursed_amount"]))
    assert sorted((etag_of(id, version), paid) for id, version, paid in logged) == sorted(expected)
    assert {row[2] for row in logged} == {"14.00", "4.00"}  # C-1: 10 + 4 × 1, C-2: 4 × 1
    again = await client.put(url, json={"items": items}, headers=admin)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 9}
    assert (await connection.execute(log)).all()[len(before) + len(logged) :] == []


async def test_a_batch_sent_again_leaves_its_unchanged_rows_unlocked(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """ON CONFLICT DO UPDATE locks every row it meets (the locker's id in the row's xmax, a
    lock record in the WAL) even when its WHERE then leaves the row alone: the rows a batch
    sends as they are stored are left out before the upsert, and only the changed one is
    touched. The counts, versions and totals are those of an upsert of every row."""
    made = await _commitments(app, client, admin, "C-1", "C-2")
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_payments", partner_id=bdt)
    items = [_item(f"P-{n}", f"C-{n % 2 + 1}") for n in range(6)]
    assert (await client.put(url, json={"items": items}, headers=admin)).status_code == 200
    rows = text("SELECT external_ref, xmax::text <> '0', version FROM payments ORDER BY 1")
    assert {(ref, touched) for ref, touched, _ in (await connection.execute(rows)).all()} == {
        (f"P-{n}", False) for n in range(6)
    }
    items[2] = items[2] | {"amount": "12.50"}
    again = await client.put(url, json={"items": items}, headers=admin)
    assert again.json() == {"created": 0, "updated": 1, "unchanged": 5}, again.text
    assert (await connection.execute(rows)).all() == [
        (f"P-{n}", n == 2, 2 if n == 2 else 1) for n in range(6)
    ]
    one = (await client.get(f"/v1/commitments/{made['C-1']['id']}")).json()
    assert one["disbursed_amount"] == "32.50"  # P-0, P-2 (12.50), P-4
