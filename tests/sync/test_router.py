"""Partner sync: upsert by reference, batches all or nothing, prune, partner scoping, races."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.models.enums import Role
from tests.conftest import KeyMaker, LiveCount, assert_problem, count, pointers
from tests.database import plain, wait_for_lock_waits
from tests.factories import make_action, partner_id

MISSING = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"


def _item(action_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "year": 2024,
        "amount": "1000.00",
        "instrument": "loan",
    } | fields


async def _changes(connection: AsyncConnection, resource_id: str) -> int:
    result = await connection.execute(
        text("SELECT count(*) FROM changes WHERE resource_id = CAST(:id AS uuid)"),
        {"id": resource_id},
    )
    return int(result.scalar_one())


async def test_put_creates_201_then_identical_200_without_new_version_then_updates(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitment", partner_id=bdt, external_ref="BDT-1")
    first = await client.put(url, json=_item(action["id"]), headers=admin)
    assert first.status_code == 201, first.text
    created = first.json()
    assert first.headers["Location"] == app.url_path_for(
        "get_commitment", commitment_id=created["id"]
    )
    assert created["external_ref"] == "BDT-1"
    assert created["partner_id"] == bdt
    assert await _changes(connection, created["id"]) == 1

    same = await client.put(url, json=_item(action["id"]), headers=admin)
    assert same.status_code == 200
    assert same.json()["etag"] == created["etag"]
    assert await _changes(connection, created["id"]) == 1

    changed = await client.put(url, json=_item(action["id"], amount="2000"), headers=admin)
    assert changed.status_code == 200
    assert changed.json()["amount"] == "2000.00"
    assert changed.json()["etag"] != created["etag"]
    assert changed.headers["ETag"] == changed.json()["etag"]
    assert await _changes(connection, created["id"]) == 2


async def test_put_with_stale_if_match_is_412(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for(
        "put_commitment", partner_id=await partner_id(client, "BDT"), external_ref="BDT-2"
    )
    created = (await client.put(url, json=_item(action["id"]), headers=admin)).json()
    await client.put(url, json=_item(action["id"], label="x"), headers=admin)
    stale = await client.put(
        url, json=_item(action["id"], label="y"), headers=admin | {"If-Match": created["etag"]}
    )
    assert_problem(stale, 412, "PRECONDITION_FAILED")


async def test_put_bad_body_is_422_naming_fields(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for(
        "put_commitment", partner_id=await partner_id(client, "BDT"), external_ref="BDT-3"
    )
    bad = _item(MISSING, year=2019, amount="10", disbursed_amount="11")
    body = assert_problem(await client.put(url, json=bad, headers=admin), 422, "VALIDATION_ERROR")
    assert pointers(body) == ["/disbursed_amount"]
    body = assert_problem(await client.put(url, json=_item(MISSING, year=2019), headers=admin), 422)
    assert pointers(body) == ["/action_id"]  # no action: no programme to judge the year by
    body = assert_problem(
        await client.put(url, json=_item(action["id"], year=2019), headers=admin), 422
    )
    assert pointers(body) == ["/year"]


async def test_partner_key_gets_403_for_another_partner_existing_or_not(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    action = await make_action(client, admin)
    bdt_key = await make_key(Role.partner, "BDT")
    amp = await partner_id(client, "AMP")
    foreign = await client.put(
        app.url_path_for("put_commitment", partner_id=amp, external_ref="X"),
        json=_item(action["id"]),
        headers=bdt_key,
    )
    missing = await client.put(
        app.url_path_for("put_commitment", partner_id=MISSING, external_ref="X"),
        json=_item(action["id"]),
        headers=bdt_key,
    )
    assert assert_problem(foreign, 403) == assert_problem(missing, 403)
    batch = await client.put(
        app.url_path_for("put_commitments", partner_id=amp), json={"items": []}, headers=bdt_key
    )
    assert_problem(batch, 403)
    assert_problem(
        await client.put(
            app.url_path_for("put_commitment", partner_id=MISSING, external_ref="X"),
            json=_item(action["id"]),
            headers=admin,
        ),
        404,
    )


async def test_batch_counts_created_updated_unchanged_and_prunes_within_scope(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitments", partner_id=bdt)
    items = [_item(action, external_ref=f"B-{i}") for i in range(5)]
    items.append(_item(action, external_ref="OLD-2023", year=2023))
    first = await client.put(url, json={"items": items}, headers=admin)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 6, "updated": 0, "unchanged": 0, "deleted": 0}

    nightly = [_item(action, external_ref=f"B-{i}") for i in range(1, 5)]
    nightly[0]["amount"] = "1500.00"
    nightly.append(_item(action, external_ref="B-NEW"))
    second = await client.put(url, json={"items": nightly, "prune": {"year": 2024}}, headers=admin)
    assert second.json() == {"created": 1, "updated": 1, "unchanged": 3, "deleted": 1}
    refs = await connection.execute(
        text("SELECT external_ref FROM commitments WHERE partner_id = CAST(:p AS uuid)"),
        {"p": bdt},
    )
    assert sorted(r for (r,) in refs) == ["B-1", "B-2", "B-3", "B-4", "B-NEW", "OLD-2023"]


async def test_a_batch_sent_again_leaves_its_unchanged_rows_unlocked(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """ON CONFLICT DO UPDATE locks every row it meets (the locker's id in xmax, a WAL record)
    even when its WHERE then leaves it alone: rows sent as they are stored are left out before
    the upsert (their xmax stays what it was); only the changed one gets a new version and a
    change-feed entry."""
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitments", partner_id=bdt)
    items = [_item(action, external_ref=f"U-{i}") for i in range(5)]
    assert (await client.put(url, json={"items": items}, headers=admin)).status_code == 200
    rows = text(
        "SELECT external_ref, xmax::text, version FROM commitments"
        " WHERE partner_id = CAST(:p AS uuid) ORDER BY 1"
    )
    before = {ref: xmax for ref, xmax, _ in (await connection.execute(rows, {"p": bdt})).all()}
    changes = await count(connection, "changes")
    items[3] = items[3] | {"label": "Relabelled"}
    again = await client.put(url, json={"items": items}, headers=admin)
    assert again.json() == {"created": 0, "updated": 1, "unchanged": 4, "deleted": 0}
    after = (await connection.execute(rows, {"p": bdt})).all()
    assert [(ref, xmax == before[ref], version) for ref, xmax, version in after] == [
        (f"U-{i}", i != 3, 2 if i == 3 else 1) for i in range(5)
    ]
    assert await count(connection, "changes") == changes + 1


async def test_optional_columns_are_stored_as_sent_whether_one_item_or_none_has_them(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """A column no item of the batch fills travels as one NULL (unnest pads it): each row
    still gets its own value, in a batch where one item has it as in one where none has."""
    action = (await make_action(client, admin))["id"]
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitments", partner_id=bdt)
    one = {"beneficiary_siret": "21130055300016", "decision_ref": "DEL-2024-17"}
    items = [_item(action, external_ref="O-0"), _item(action, external_ref="O-1") | one]
    items.append(_item(action, external_ref="O-2", signed_on="2024-05-02"))
    assert (await client.put(url, json={"items": items}, headers=admin)).status_code == 200
    none = [_item(action, external_ref="O-3"), _item(action, external_ref="O-4")]
    assert (await client.put(url, json={"items": none}, headers=admin)).status_code == 200
    rows = await connection.execute(
        text(
            "SELECT external_ref, beneficiary_siret, decision_ref, signed_on::text FROM"
            " commitments WHERE partner_id = CAST(:p AS uuid) ORDER BY 1"
        ),
        {"p": bdt},
    )
    assert rows.all() == [
        ("O-0", None, None, None),
        ("O-1", "21130055300016", "DEL-2024-17", None),
        ("O-2", None, None, "2024-05-02"),
        ("O-3", None, None, None),
        ("O-4", None, None, None),
    ]


async def test_batch_with_bad_items_reports_every_one_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = (await make_action(client, admin))["id"]
    url = app.url_path_for("put_commitments", partner_id=await partner_id(client, "BDT"))
    items = [_item(action, external_ref=f"R-{i}") for i in range(12)]
    items[1]["year"] = 2031
    items[3]["action_id"] = MISSING
    items[5]["amount"] = 12.5
    items[7]["external_ref"] = "R-0"
    items[10]["currency"] = "EUR"
    del items[11]["external_ref"]
    before = await count(connection, "commitments")
    body = assert_problem(await client.put(url, json={"items": items}, headers=admin), 422)
    assert pointers(body) == [
        "/items/1/year",
        "/items/3/action_id",
        "/items/5/amount",
        "/items/7/external_ref",
        "/items/10/currency",
        "/items/11/external_ref",
    ]
    assert await count(connection, "commitments") == before


async def test_batch_body_shape_errors_are_422(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = app.url_path_for("put_commitments", partner_id=await partner_id(client, "BDT"))
    json_headers = admin | {"Content-Type": "application/json"}
    broken = assert_problem(await client.put(url, content=b"{", headers=json_headers), 422)
    assert broken["errors"][0]["detail"] == "the body is not valid JSON"
    listed = assert_problem(await client.put(url, content=b"[]", headers=json_headers), 422)
    assert [e["pointer"] for e in listed["errors"]] == [""]
    body = assert_problem(await client.put(url, json={"items": 3, "x": 1}, headers=admin), 422)
    assert pointers(body) == ["/items", "/x"]
    too_many: dict[str, Any] = {"items": [{}] * 10_001}
    assert pointers(assert_problem(await client.put(url, json=too_many, headers=admin), 422)) == [
        "/items"
    ]
    prune = {"items": [], "prune": {"year": "2024"}}
    assert pointers(assert_problem(await client.put(url, json=prune, headers=admin), 422)) == [
        "/prune/year"
    ]


@pytest.mark.parametrize("content_type", ["text/plain", None])
async def test_batch_in_another_media_type_than_json_is_415_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: dict[str, str],
    connection: AsyncConnection,
    content_type: str | None,
) -> None:
    action = (await make_action(client, admin))["id"]
    url = app.url_path_for("put_commitments", partner_id=await partner_id(client, "BDT"))
    body = json.dumps({"items": [_item(action, external_ref="PLAIN-1")]}).encode()
    headers = admin | ({"Content-Type": content_type} if content_type else {})
    before = await count(connection, "commitments")
    response = await client.put(url, content=body, headers=headers)
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await count(connection, "commitments") == before


async def test_forty_concurrent_identical_puts_leave_one_row_and_no_5xx(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    live_count: LiveCount,
) -> None:
    action = await make_action(live_client, live_admin)
    bdt = await partner_id(live_client, "BDT")
    url = live_app.url_path_for("put_commitment", partner_id=bdt, external_ref="RACE-1")
    responses = await asyncio.gather(
        *(live_client.put(url, json=_item(action["id"]), headers=live_admin) for _ in range(40))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 39 + [201], statuses
    assert await live_count("commitments WHERE external_ref = 'RACE-1'") == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("signed_on", 0), ("year", True), ("year", 2024.0), ("signed_on", "2023-02-30")],
)
async def test_put_refuses_coerced_values(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], field: str, value: object
) -> None:
    action = await make_action(client, admin)
    url = app.url_path_for(
        "put_commitment", partner_id=await partner_id(client, "BDT"), external_ref="COERCE"
    )
    body = _item(action["id"]) | {field: value}
    assert pointers(assert_problem(await client.put(url, json=body, headers=admin), 422)) == [
        f"/{field}"
    ]


async def test_an_upsert_chosen_as_deadlock_victim_reruns_and_succeeds(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_admin: dict[str, str], database_url: str
) -> None:
    """A deadlock made on purpose: the batch holds commitment c1 and waits for the roll-up row
    of (2024, grant) that another transaction holds; that transaction then wants c1. PostgreSQL
    aborts the batch's statement (it waited first); the batch reruns it and answers 200."""
    action = (await make_action(live_client, live_admin))["id"]
    bdt = await partner_id(live_client, "BDT")
    put = live_app.url_path_for("put_commitments", partner_id=bdt)
    seeded = [_item(action, external_ref="C1", year=2023), _item(action, external_ref="C2",
              year=2024, instrument="grant")]  # fmt: skip
    assert (
        await live_client.put(put, json={"items": seeded}, headers=live_admin)
    ).status_code == 200
    other = await asyncpg.connect(plain(database_url))
    try:
        tx = other.transaction()
        await tx.start()
        # Holds the (2024, grant) roll-up row through the roll-up trigger.
        await other.execute("UPDATE commitments SET amount = 2000 WHERE external_ref = 'C2'")
        batch = [
            _item(action, external_ref="C1", year=2023, amount="1500.00"),  # locks c1 first
            _item(action, external_ref="C3", year=2024, instrument="grant"),  # then waits
        ]
        blocked = asyncio.create_task(
            live_client.put(put, json={"items": batch}, headers=live_admin)
        )
        await wait_for_lock_waits(database_url)  # the batch holds c1, waits for the roll-up row
        # Closes the cycle; PostgreSQL breaks it (deadlock_timeout) by aborting the batch's
        # statement, which waited first, and this one goes through.
        await other.execute("UPDATE commitments SET label = 'x' WHERE external_ref = 'C1'")
        await tx.commit()
        response = await blocked
    finally:
        await other.close()
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


async def _deadlocks(conn: asyncpg.Connection, engine: AsyncEngine) -> int:
    """The deadlocks counted in this database so far.

    A backend publishes its statistics at most once a second, an idle one up to ten seconds
    later, and always when it exits: so the app's pooled connections are closed first, and
    the read waits until their backends are gone."""
    await engine.dispose()
    deadline = asyncio.get_running_loop().time() + 60
    while await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ):
        assert asyncio.get_running_loop().time() < deadline, "connections left open"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # a backend leaves pg_stat_activity just before it reports
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    value = await conn.fetchval(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(value)


async def test_concurrent_batches_of_one_partner_queue_instead_of_deadlocking(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    database_url: str,
    engine: AsyncEngine,
) -> None:
    """Two kinds of batch: one updates (2023) and inserts (2024), the other the reverse. Run
    together, their roll-up triggers lock the two cells in opposite orders."""
    action = (await make_action(live_client, live_admin))["id"]
    put = live_app.url_path_for("put_commitments", partner_id=await partner_id(live_client, "BDT"))
    base = [_item(action, external_ref=f"A{i}", year=2023) for i in range(6)] + [
        _item(action, external_ref=f"B{i}", year=2024) for i in range(6)
    ]
    assert (await live_client.put(put, json={"items": base}, headers=live_admin)).status_code == 200
    conn = await asyncpg.connect(plain(database_url))
    try:
        before = await _deadlocks(conn, engine)
        for round_ in range(3):
            batches = []
            for i in range(6):
                old, new = ("A", 2024) if i % 2 else ("B", 2023)
                items = [
                    _item(action, external_ref=f"{old}{i}", year=2023 if old == "A" else 2024,
                          amount=f"{1000 + round_}.00"),
                    _item(action, external_ref=f"N{round_}-{i}", year=new),
                ]  # fmt: skip
                batches.append(live_client.put(put, json={"items": items}, headers=live_admin))
            responses = await asyncio.gather(*batches)
            assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
        assert await _deadlocks(conn, engine) == before
    finally:
        await conn.close()
