"""The API behind a real PgBouncer in transaction pooling mode: a slice of everything it does
(writes, ETags, idempotency, batch sync, lists, the prepared aggregate statements, the feed,
errors, concurrent clients) with 10 client connections sharing 3 server connections, so that
consecutive transactions of one client land on different server connections."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.db import create_engine
from app.models.enums import Role
from devtools.scratch import plain
from tests.conftest import assert_problem, pointers
from tests.factories import make_action, partner_id
from tests.pgbouncer.conftest import SERVER_CONNECTIONS, Bounced, bounced_settings


async def admin_of(app: FastAPI) -> dict[str, str]:
    async with app.state.sessionmaker() as session, session.begin():
        _, token = await create_key(
            ApiKeyRepository(session), name="bouncer admin", role=Role.admin, partner_id=None
        )
    return {"Authorization": f"Bearer {token}"}


def _code() -> str:
    return f"PGB_{uuid.uuid4().hex[:10]}".upper()


async def server_connections(bounced: Bounced) -> int:
    """Backends the server has on the test database, this check's own excepted."""
    conn = await asyncpg.connect(plain(bounced.direct))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def test_without_the_setting_pgbouncer_refuses_the_startup_parameters(
    bounced: Bounced,
) -> None:
    """Why DATABASE_PGBOUNCER exists: jit and statement_timeout as startup parameters are
    refused (PgBouncer names the first it meets)."""
    engine = create_engine(bounced_settings(bounced.through, pgbouncer=False))
    try:
        refused = r"unsupported startup parameter: (jit|statement_timeout)"
        with pytest.raises(DBAPIError, match=refused):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_writes_etags_and_idempotency_through_pgbouncer(
    bouncer_app: FastAPI, bouncer_client: httpx.AsyncClient
) -> None:
    admin = await admin_of(bouncer_app)
    action = await make_action(bouncer_client, admin, code=_code())
    url = f"/v1/actions/{action['id']}"
    patched = await bouncer_client.patch(
        url, json={"progress": 40}, headers=admin | {"If-Match": action["etag"]}
    )
    assert patched.status_code == 200, patched.text
    stale = await bouncer_client.patch(
        url, json={"progress": 50}, headers=admin | {"If-Match": action["etag"]}
    )
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    got = await bouncer_client.get(url, headers={"If-None-Match": patched.headers["ETag"]})
    assert got.status_code == 304

    body = {"code": _code(), "name": "Idempotent partner", "kind": "other"}
    key = admin | {"Idempotency-Key": uuid.uuid4().hex}
    first = await bouncer_client.post("/v1/partners", json=body, headers=key)
    again = await bouncer_client.post("/v1/partners", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = await bouncer_client.get("/v1/partners", params={"code": body["code"]})
    assert [p["id"] for p in listed.json()["items"]] == [first.json()["id"]]
    assert (await bouncer_client.delete(url, headers=admin)).status_code == 204
    assert (await bouncer_client.get(url)).status_code == 404


async def test_errors_store_nothing_and_leave_no_broken_connection_behind(
    bouncer_app: FastAPI, bouncer_client: httpx.AsyncClient, bounced: Bounced
) -> None:
    admin = await admin_of(bouncer_app)
    code = _code()
    body = {"code": code, "name": "First", "kind": "other"}
    assert (await bouncer_client.post("/v1/partners", json=body, headers=admin)).status_code == 201
    # A unique violation aborts its transaction on some server connection: every later
    # transaction, on whichever connection, must still work.
    for _ in range(2 * SERVER_CONNECTIONS):
        duplicate = await bouncer_client.post("/v1/partners", json=body, headers=admin)
        assert_problem(duplicate, 409, "CONFLICT")
    bad = await bouncer_client.post(
        "/v1/partners", json={"code": _code(), "name": "", "kind": "bank"}, headers=admin
    )
    assert set(pointers(assert_problem(bad, 422, "VALIDATION_ERROR"))) >= {"/kind"}
    listed = await bouncer_client.get("/v1/partners", params={"code": code})
    assert len(listed.json()["items"]) == 1
    conn = await asyncpg.connect(plain(bounced.direct))
    try:
        assert await conn.fetchval("SELECT count(*) FROM partners WHERE code = $1", code) == 1
    finally:
        await conn.close()


def _item(action_id: str, ref: str, amount: str) -> dict[str, Any]:
    return {"action_id": action_id, "external_ref": ref, "year": 2024, "amount": amount,
            "instrument": "grant", "status": "committed"}  # fmt: skip


async def test_batch_sync_aggregates_and_feed_agree_with_the_database(
    bouncer_app: FastAPI, bouncer_client: httpx.AsyncClient, bounced: Bounced
) -> None:
    admin = await admin_of(bouncer_app)
    feed = await bouncer_client.get("/v1/changes", params={"limit": 1000})
    cursor = feed.json()["next_cursor"]
    while feed.json()["has_more"]:
        feed = await bouncer_client.get("/v1/changes", params={"cursor": cursor, "limit": 1000})
        cursor = feed.json()["next_cursor"]
    action = await make_action(bouncer_client, admin, code=_code())
    bdt = await partner_id(bouncer_client, "BDT")
    items = [_item(action["id"], f"PGB-{i}", f"{100 + i}.25") for i in range(300)]
    batch = await bouncer_client.put(
        f"/v1/partners/{bdt}/commitments", json={"items": items}, headers=admin
    )
    assert batch.status_code == 200, batch.text

    conn = await asyncpg.connect(plain(bounced.direct))
    try:
        expected = await conn.fetchval(
            "SELECT sum(amount) FROM commitments WHERE status = 'committed' AND action_id = $1",
            uuid.UUID(action["id"]),
        )
    finally:
        await conn.close()
    for _ in range(2 * SERVER_CONNECTIONS):  # each prepared statement on several connections
        cells = await bouncer_client.get(
            "/v1/aggregates/commitments",
            params={"drilldown": "action,year", "action": action["id"]},
        )
        assert cells.status_code == 200, cells.text
        assert Decimal(cells.json()["summary"]["committed"]) == expected
    summary = await bouncer_client.get("/v1/summary")
    assert summary.status_code == 200, summary.text

    changes = await bouncer_client.get("/v1/changes", params={"cursor": cursor, "limit": 1000})
    assert changes.status_code == 200, changes.text
    logged = [c for c in changes.json()["items"] if c["resource"] == "commitments"]
    assert len(logged) == len(items)


async def test_concurrent_clients_share_three_server_connections(
    bouncer_app: FastAPI, bouncer_client: httpx.AsyncClient, bounced: Bounced
) -> None:
    admin = await admin_of(bouncer_app)
    action = await make_action(bouncer_client, admin, code=_code())
    bdt = await partner_id(bouncer_client, "BDT")

    async def write(i: int) -> httpx.Response:
        body = {"action_id": action["id"], "partner_id": bdt, "year": 2025,
                "amount": "10.00", "instrument": "loan", "status": "committed"}  # fmt: skip
        return await bouncer_client.post("/v1/commitments", json=body, headers=admin)

    async def read(i: int) -> httpx.Response:
        path = ("/v1/commitments", "/v1/aggregates/commitments", "/v1/changes")[i % 3]
        return await bouncer_client.get(path, params={"limit": 5} if i % 3 != 1 else {})

    answers = await asyncio.gather(*(f(i) for i in range(30) for f in (write, read)))
    assert [a.status_code for a in answers if a.status_code not in (200, 201)] == []
    assert bouncer_app.state.engine.pool.checkedin() > SERVER_CONNECTIONS
    assert await server_connections(bounced) <= SERVER_CONNECTIONS
    total = await bouncer_client.get("/v1/aggregates/commitments", params={"action": action["id"]})
    assert Decimal(total.json()["summary"]["committed"]) == Decimal("300.00")


async def test_ready_through_pgbouncer(bouncer_client: httpx.AsyncClient) -> None:
    response = await bouncer_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["database"] == "ok"


async def test_commitment_reads_on_the_driver_through_pgbouncer(
    bouncer_app: FastAPI,
    bouncer_client: httpx.AsyncClient,
    bounced: Bounced,
    on_driver: list[str],
) -> None:
    """GET one and the list run on asyncpg directly (app.common.driver), each in its own
    read-only transaction: concurrent reads over three server connections, filters expanded
    and a cursor, never a statement prepared on one server connection and run on another."""
    admin = await admin_of(bouncer_app)
    action = await make_action(bouncer_client, admin, code=_code())
    bdt = await partner_id(bouncer_client, "BDT")
    made = []
    for year in (2022, 2023, 2024, 2025, 2026):
        body = {"action_id": action["id"], "partner_id": bdt, "year": year,
                "amount": f"{year}.00", "instrument": "loan", "status": "committed"}  # fmt: skip
        created = await bouncer_client.post("/v1/commitments", json=body, headers=admin)
        assert created.status_code == 201, created.text
        made.append(created.json())

    ones = await asyncio.gather(
        *(bouncer_client.get(f"/v1/commitments/{c['id']}") for c in made * 6)
    )
    assert [r.json() for r in ones] == made * 6
    query = {"action_id": action["id"], "year": [2022, 2024, 2026], "limit": 2}
    first = await bouncer_client.get("/v1/commitments", params=query)
    cursor = first.json()["next_cursor"]
    second = await bouncer_client.get("/v1/commitments", params=query | {"cursor": cursor})
    listed = first.json()["items"] + second.json()["items"]
    assert sorted(c["year"] for c in listed) == [2022, 2024, 2026]
    assert second.json()["next_cursor"] is None
    assert await server_connections(bounced) <= SERVER_CONNECTIONS
    assert len(on_driver) == 30 + 2  # every read on the driver, each in its transaction
