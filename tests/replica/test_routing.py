"""Reads on a real streaming replica: which reads go there, read-your-writes with the
`Relance-Read-After` token, and a feed that never serves past what the replica replayed.

Each test pauses the replica's replay (`pg_wal_replay_pause()`): what the primary commits then
is invisible on the replica until replay resumes, so every read shows where it was served."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.db import READ_AFTER
from app.models.enums import Role
from devtools.replica import pause_replay, resume_replay, wait_replayed
from tests.conftest import assert_problem
from tests.factories import make_commitment
from tests.replica.conftest import Servers


async def admin_of(app: FastAPI) -> dict[str, str]:
    async with app.state.sessionmaker() as session, session.begin():
        _, token = await create_key(
            ApiKeyRepository(session), name="replica admin", role=Role.admin, partner_id=None
        )
    return {"Authorization": f"Bearer {token}"}


async def new_partner(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    code = f"R{uuid.uuid4().hex[:10]}".upper()
    body = {"code": code, "name": f"Partner {code}", "kind": "other"}
    response = await client.post("/v1/partners", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response


async def listed(client: httpx.AsyncClient, codes: list[str], token: str | None = None) -> set[str]:
    headers = {READ_AFTER: token} if token else {}
    response = await client.get("/v1/partners", params={"code": codes}, headers=headers)
    assert response.status_code == 200, response.text
    return {p["code"] for p in response.json()["items"]}


async def test_a_list_reads_the_replica_and_a_writers_token_reads_its_write(
    replica_app: FastAPI, replica_client: httpx.AsyncClient, servers: Servers
) -> None:
    admin = await admin_of(replica_app)
    await pause_replay(servers.replica)
    first = await new_partner(replica_client, admin)
    code, token = first.json()["code"], first.headers[READ_AFTER]

    assert await listed(replica_client, [code]) == set()  # the replica has not replayed it
    assert await listed(replica_client, [code], token) == {code}  # the writer reads its write

    # Once the replica has replayed the token, the token's reads are the replica's: a later
    # write, not replayed, is not in them, while its own token shows both.
    await resume_replay(servers.replica)
    await wait_replayed(servers.primary, servers.replica)
    await pause_replay(servers.replica)
    second = await new_partner(replica_client, admin)
    codes = [code, second.json()["code"]]
    assert await listed(replica_client, codes, token) == {code}
    assert await listed(replica_client, codes, second.headers[READ_AFTER]) == set(codes)
    assert await listed(replica_client, codes) == {code}


async def test_commitment_reads_on_the_driver_keep_their_routing(
    replica_app: FastAPI,
    replica_client: httpx.AsyncClient,
    servers: Servers,
    on_driver: list[str],
) -> None:
    """The commitments' list and GET run on asyncpg directly (app.common.driver) and still
    read where the routing says: the list on the replica (with a token the replica has not
    replayed, on the primary), one commitment on the primary."""
    admin = await admin_of(replica_app)
    first = await make_commitment(replica_client, admin)
    await wait_replayed(servers.primary, servers.replica)
    await pause_replay(servers.replica)
    body = {key: first[key] for key in ("action_id", "partner_id", "instrument", "status")}
    second = await replica_client.post(
        "/v1/commitments", json=body | {"year": 2025, "amount": "5.00"}, headers=admin
    )
    assert second.status_code == 201, second.text
    query = {"action_id": first["action_id"]}

    stale = await replica_client.get("/v1/commitments", params=query)
    fresh = await replica_client.get(
        "/v1/commitments", params=query, headers={READ_AFTER: second.headers[READ_AFTER]}
    )
    one = await replica_client.get(f"/v1/commitments/{second.json()['id']}")
    assert [c["id"] for c in stale.json()["items"]] == [first["id"]]
    assert {c["id"] for c in fresh.json()["items"]} == {first["id"], second.json()["id"]}
    assert one.json() == second.json()
    # on the driver: the list on the replica, the token's list (the replica checked it has not
    # replayed the token, and the primary's fresh session then reads) and the GET on the primary
    assert len(on_driver) == 3


async def test_one_resource_and_reads_inside_writes_stay_on_the_primary(
    replica_app: FastAPI, replica_client: httpx.AsyncClient, servers: Servers
) -> None:
    admin = await admin_of(replica_app)
    await pause_replay(servers.replica)
    created = (await new_partner(replica_client, admin)).json()
    url = f"/v1/partners/{created['id']}"

    got = await replica_client.get(url)
    assert got.status_code == 200
    assert got.json()["etag"] == created["etag"]
    patched = await replica_client.patch(
        url, json={"name": "Renamed"}, headers=admin | {"If-Match": created["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert (
        await replica_client.get(url, headers={"If-None-Match": patched.headers["ETag"]})
    ).status_code == 304
    assert (await replica_client.delete(url, headers=admin)).status_code == 204
    assert (await replica_client.get(url)).status_code == 404
    assert created["code"] not in await listed(replica_client, [created["code"]])


def _committed(body: dict[str, Any]) -> Decimal:
    return Decimal(body["summary"]["committed"])


def _csv_committed(csv: str) -> Decimal:
    header, row = csv.splitlines()[1:3]  # after the `sep=;` line
    return Decimal(dict(zip(header.split(";"), row.split(";"), strict=True))["committed"])


async def test_aggregates_and_exports_read_the_replica_unless_the_token_is_ahead(
    replica_app: FastAPI, replica_client: httpx.AsyncClient, servers: Servers
) -> None:
    admin = await admin_of(replica_app)
    made = await make_commitment(replica_client, admin, status="committed", amount="1234.56")
    await wait_replayed(servers.primary, servers.replica)
    before = _committed((await replica_client.get("/v1/aggregates/commitments")).json())
    await pause_replay(servers.replica)
    body = {
        "action_id": made["action_id"],
        "partner_id": made["partner_id"],
        "year": 2025,
        "amount": "777.77",
        "status": "committed",
        "instrument": "grant",
    }
    created = await replica_client.post("/v1/commitments", json=body, headers=admin)
    assert created.status_code == 201, created.text
    token = {READ_AFTER: created.headers[READ_AFTER]}
    after = before + Decimal("777.77")

    stale = (await replica_client.get("/v1/aggregates/commitments")).json()
    fresh = (await replica_client.get("/v1/aggregates/commitments", headers=token)).json()
    assert (_committed(stale), _committed(fresh)) == (before, after)
    export = "/v1/aggregates/commitments.csv"
    assert _csv_committed((await replica_client.get(export)).text) == before
    assert _csv_committed((await replica_client.get(export, headers=token)).text) == after


async def _feed_end(client: httpx.AsyncClient, cursor: str | None = None) -> str:
    """The cursor after the last change the server answering shows."""
    while True:
        params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/changes", params=params)).json()
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return str(cursor)


async def test_the_feed_never_serves_past_what_the_replica_replayed(
    replica_app: FastAPI, replica_client: httpx.AsyncClient, servers: Servers
) -> None:
    admin = await admin_of(replica_app)
    await wait_replayed(servers.primary, servers.replica)
    end = await _feed_end(replica_client)
    await pause_replay(servers.replica)
    written = await new_partner(replica_client, admin)
    token = {READ_AFTER: written.headers[READ_AFTER]}

    replica_page = (await replica_client.get("/v1/changes", params={"cursor": end})).json()
    assert replica_page["items"] == []
    assert replica_page["next_cursor"] == end
    primary_page = (
        await replica_client.get("/v1/changes", params={"cursor": end}, headers=token)
    ).json()
    assert [c["resource_id"] for c in primary_page["items"]] == [written.json()["id"]]
    ahead = primary_page["next_cursor"]

    # A cursor the replica has not replayed: answered (by the primary), never a 410.
    after_ahead = await replica_client.get("/v1/changes", params={"cursor": ahead})
    assert after_ahead.status_code == 200, after_ahead.text
    assert after_ahead.json()["items"] == []

    # Caught up, the replica serves the same change at the same position: nothing skipped.
    await resume_replay(servers.replica)
    await wait_replayed(servers.primary, servers.replica)
    caught_up = (await replica_client.get("/v1/changes", params={"cursor": end})).json()
    assert caught_up["items"] == primary_page["items"]


async def test_a_malformed_token_is_a_400_naming_the_header(
    replica_client: httpx.AsyncClient,
) -> None:
    response = await replica_client.get("/v1/partners", headers={READ_AFTER: "yesterday"})
    body = assert_problem(response, 400, "INVALID_PARAMETER")
    assert body["errors"][0]["parameter"] == READ_AFTER


async def test_without_a_replica_a_write_carries_no_token(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"code": "NOREPLICA", "name": "No replica", "kind": "other"}
    response = await client.post("/v1/partners", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert READ_AFTER not in response.headers
