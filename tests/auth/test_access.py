"""Keys and roles: who may write what, and reads public unless configured otherwise."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem
from tests.factories import make_action, make_commitment, partner_id

NEW_PARTNER = {"code": "ETAT", "name": "État", "kind": "state"}


async def test_write_without_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/partners", json=NEW_PARTNER)
    assert_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["nope", "rk_000000000000_wrong", "rk_short_x"])
async def test_write_with_unknown_key_is_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post(
        "/v1/partners", json=NEW_PARTNER, headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 401)


async def test_tampered_secret_of_a_real_key_is_401(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tampered = admin["Authorization"][:-2] + (
        "AA" if not admin["Authorization"].endswith("AA") else "BB"
    )
    assert_problem(
        await client.post("/v1/partners", json=NEW_PARTNER, headers={"Authorization": tampered}),
        401,
    )


async def test_editor_writes_reference_data(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    assert (await client.post("/v1/partners", json=NEW_PARTNER, headers=editor)).status_code == 201


async def test_partner_key_may_not_write_reference_data(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.partner, "BDT")
    assert_problem(
        await client.post("/v1/partners", json=NEW_PARTNER, headers=key), 403, "FORBIDDEN"
    )


async def test_partner_key_writes_only_its_own_commitments(
    app: FastAPI, client: httpx.AsyncClient, make_key: KeyMaker, admin: dict[str, str]
) -> None:
    bdt_key = await make_key(Role.partner, "BDT")
    action = await make_action(client, admin)
    own = await make_commitment(
        client, bdt_key, action_id=action["id"], partner_id=await partner_id(client, "BDT")
    )
    assert (
        await client.patch(
            app.url_path_for("update_commitment", commitment_id=own["id"]),
            json={"label": "x"},
            headers=bdt_key,
        )
    ).status_code == 200
    foreign = await make_commitment(client, admin, partner_id=await partner_id(client, "AMP"))
    body = {k: foreign[k] for k in ("action_id", "partner_id", "year", "amount", "instrument")}
    assert_problem(
        await client.post(app.url_path_for("create_commitment"), json=body, headers=bdt_key), 403
    )
    on_foreign = await client.patch(
        app.url_path_for("update_commitment", commitment_id=foreign["id"]),
        json={"label": "x"},
        headers=bdt_key,
    )
    missing = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"
    on_missing = await client.patch(
        app.url_path_for("update_commitment", commitment_id=missing),
        json={"label": "x"},
        headers=bdt_key,
    )
    # Another partner's commitment answers as a missing one does (but for the id sent).
    seen = assert_problem(on_foreign, 404)
    assert (
        seen["detail"].replace(foreign["id"], missing) == assert_problem(on_missing, 404)["detail"]
    )
    assert_problem(
        await client.delete(
            app.url_path_for("delete_commitment", commitment_id=foreign["id"]), headers=bdt_key
        ),
        404,
    )
    moved = await client.patch(
        app.url_path_for("update_commitment", commitment_id=own["id"]),
        json={"partner_id": foreign["partner_id"]},
        headers=bdt_key,
    )
    assert_problem(moved, 403)


async def test_keys_are_stored_hashed(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    token = admin["Authorization"].removeprefix("Bearer ")
    rows = (await connection.execute(text("SELECT prefix, secret_hash FROM api_keys"))).all()
    assert rows
    for _prefix, secret_hash in rows:
        assert token not in secret_hash
        assert len(secret_hash) == 64
    assert (await client.post("/v1/partners", json=NEW_PARTNER, headers=admin)).status_code == 201
    used = await connection.execute(
        text("SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL")
    )
    assert used.scalar_one() >= 1


async def test_reads_are_public_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/chantiers")).status_code == 200


async def test_reads_need_a_key_when_configured(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"auth": app.state.settings.auth.model_copy(update={"read_requires_key": True})}
    )
    assert_problem(await client.get("/v1/chantiers"), 401)
    assert (await client.get("/v1/chantiers", headers=admin)).status_code == 200
