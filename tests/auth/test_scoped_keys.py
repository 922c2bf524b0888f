"""Keys scoped to programmes: minted by the API and the CLI, shown in the listing, kept by the
database, and bounding every write path (bodies that move a row, the partner sync, prune)."""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, count, pointers
from tests.database import plain
from tests.factories import make_action, make_commitment, partner_id
from tests.processes import relance

B = "SCOPE-B"
relance_anyway = functools.partial(relance, check=False)  # its failures are tested


@dataclass(frozen=True)
class Two:
    """Programme A (seeded) with a chantier, programme B with a chantier, both by id."""

    a: str
    b: str
    chantier_a: str
    chantier_b: str


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], h: dict[str, str]
) -> str:
    response = await client.post(url, json=body, headers=h)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
async def two(client: httpx.AsyncClient, admin: dict[str, str], settings: Settings) -> Two:
    listed = await client.get("/v1/programmes", params={"code": settings.programme.first_code})
    a = str(listed.json()["items"][0]["id"])
    b = await _post(
        client,
        "/v1/programmes",
        {
            "code": B,
            "name": "Programme B",
            "start_year": 2023,
            "end_year": 2026,
            "territory_code": "200054807",
        },
        admin,
    )
    chantier_a = str(
        (await client.get("/v1/chantiers", params={"number": 5})).json()["items"][0]["id"]
    )
    chantier_b = await _post(
        client,
        "/v1/chantiers",
        {"programme_id": b, "number": 901, "code": "B-CH", "name": "Chantier de B"},
        admin,
    )
    return Two(a, b, chantier_a, chantier_b)


# --- minting and listing ----------------------------------------------------------------------


async def test_api_creates_a_scoped_key_and_lists_its_scope(
    client: httpx.AsyncClient, admin: dict[str, str], two: Two
) -> None:
    body = {"name": "two programmes", "role": "editor", "programme_ids": [two.b, two.a]}
    created = await client.post("/v1/api-keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["programme_ids"] == sorted([two.a, two.b])
    listed = {
        k["name"]: k for k in (await client.get("/v1/api-keys", headers=admin)).json()["items"]
    }
    assert listed["two programmes"]["programme_ids"] == sorted([two.a, two.b])
    assert listed["test admin"]["programme_ids"] is None  # unscoped: every programme


@pytest.mark.parametrize(
    ("scope", "pointer"),
    [
        (lambda two: [two.a, str(uuid.uuid4())], "/programme_ids/1"),
        (lambda two: [two.a, two.a], "/programme_ids/1"),
        (lambda two: [], "/programme_ids"),
    ],
    ids=["unknown", "twice", "empty"],
)
async def test_bad_scope_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    admin: dict[str, str],
    two: Two,
    scope: Any,
    pointer: str,
) -> None:
    keys, links = await count(connection, "api_keys"), await count(connection, "api_key_programmes")
    body = {"name": "bad", "role": "editor", "programme_ids": scope(two)}
    problem = assert_problem(await client.post("/v1/api-keys", json=body, headers=admin), 422)
    assert pointers(problem) == [pointer]
    assert await count(connection, "api_keys") == keys
    assert await count(connection, "api_key_programmes") == links


async def test_admin_key_is_never_scoped(
    client: httpx.AsyncClient, connection: AsyncConnection, admin: dict[str, str], two: Two
) -> None:
    body = {"name": "scoped admin", "role": "admin", "programme_ids": [two.a]}
    problem = assert_problem(await client.post("/v1/api-keys", json=body, headers=admin), 422)
    assert pointers(problem) == ["/programme_ids"]
    # The database refuses it too, whatever the client.
    admin_id = await connection.scalar(text("SELECT id FROM api_keys WHERE role = 'admin' LIMIT 1"))
    # The link's role is the key's: an admin's is refused; another role than its key's too (so
    # the CHECK cannot be lied to).
    for role, constraint in [
        ("admin", "api_key_programmes_not_admin_check"),
        ("editor", "api_key_programmes_api_key_id_role_fkey"),
    ]:
        with pytest.raises(IntegrityError, match=constraint):
            async with connection.begin_nested():
                await connection.execute(
                    text(
                        "INSERT INTO api_key_programmes (api_key_id, programme_id, role) "
                        "VALUES (:k, :p, :role)"
                    ),
                    {"k": admin_id, "p": two.a, "role": role},
                )


async def test_programme_a_key_is_scoped_to_is_deleted_only_once_the_key_is_revoked(
    client: httpx.AsyncClient, admin: dict[str, str], two: Two
) -> None:
    """Deleting it would turn a key scoped to it alone into a key reaching every programme."""
    await client.delete(f"/v1/chantiers/{two.chantier_b}", headers=admin)
    body = {"name": "B only", "role": "editor", "programme_ids": [two.b]}
    key = await _post(client, "/v1/api-keys", body, admin)
    assert_problem(
        await client.delete(f"/v1/programmes/{two.b}", headers=admin), 409, "STILL_REFERENCED"
    )
    assert (await client.delete(f"/v1/api-keys/{key}", headers=admin)).status_code == 204
    assert (await client.delete(f"/v1/programmes/{two.b}", headers=admin)).status_code == 204


# --- bodies naming another programme's rows ------------------------------------------------------


async def test_scoped_key_cannot_move_an_action_to_another_programme(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    admin: dict[str, str],
    make_key: KeyMaker,
    settings: Settings,
    two: Two,
) -> None:
    key = await make_key(Role.editor, programmes=[settings.programme.first_code])
    action = await make_action(client, key)
    moved = await client.patch(
        f"/v1/actions/{action['id']}", json={"chantier_id": two.chantier_b}, headers=key
    )
    problem = assert_problem(moved, 422)
    assert problem["errors"] == [{"pointer": "/chantier_id", "detail": "no such chantier"}]
    stored = await connection.scalar(
        text("SELECT chantier_id FROM actions WHERE id = :id"), {"id": action["id"]}
    )
    assert str(stored) == two.chantier_a
    # An unscoped editor may move it: the refusal is the scope's.
    ok = await client.patch(
        f"/v1/actions/{action['id']}", json={"chantier_id": two.chantier_b}, headers=admin
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["programme_id"] == two.b


async def test_scoped_key_cannot_move_a_commitment_to_another_programme(
    client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker, two: Two
) -> None:
    key = await make_key(Role.editor, programmes=[B])
    commitment = await make_commitment(
        client, key, action_id=(await make_action(client, key, chantier_id=two.chantier_b))["id"]
    )
    assert commitment["programme_id"] == two.b
    into_a = (await make_action(client, admin))["id"]
    moved = await client.patch(
        f"/v1/commitments/{commitment['id']}", json={"action_id": into_a}, headers=key
    )
    assert pointers(assert_problem(moved, 422)) == ["/action_id"]


async def test_chantier_of_b_cannot_serve_priorities_of_a_scoped_key_does_not_reach(
    client: httpx.AsyncClient, make_key: KeyMaker, two: Two
) -> None:
    key = await make_key(Role.editor, programmes=[B])
    priority_a = (await client.get("/v1/priorities")).json()["items"][0]
    assert priority_a["programme_id"] == two.a
    body = {
        "programme_id": two.b,
        "number": 902,
        "code": "B-CH2",
        "name": "x",
        "priority_ids": [priority_a["id"]],
    }
    problem = assert_problem(await client.post("/v1/chantiers", json=body, headers=key), 422)
    # The answer for a missing priority, not "of another programme": nothing more is told.
    assert problem["errors"] == [{"pointer": "/priority_ids/0", "detail": "no such priority"}]


async def test_scoped_key_reads_every_programme(
    client: httpx.AsyncClient, make_key: KeyMaker, two: Two
) -> None:
    key = await make_key(Role.editor, programmes=[B])
    assert (await client.get(f"/v1/chantiers/{two.chantier_a}", headers=key)).status_code == 200
    listed = await client.get("/v1/chantiers", params={"programme_id": two.a}, headers=key)
    assert listed.json()["items"]


async def test_scoped_key_may_update_its_programme_but_not_delete_it(
    client: httpx.AsyncClient, make_key: KeyMaker, two: Two
) -> None:
    key = await make_key(Role.editor, programmes=[B])
    renamed = await client.patch(f"/v1/programmes/{two.b}", json={"name": "B!"}, headers=key)
    assert renamed.status_code == 200, renamed.text
    assert_problem(await client.delete(f"/v1/programmes/{two.b}", headers=key), 403, "FORBIDDEN")


# --- partner sync -----------------------------------------------------------------------------


def _item(action_id: str, ref: str, year: int = 2024) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "action_id": action_id,
        "year": year,
        "amount": "10.00",
        "instrument": "grant",
    }


async def test_sync_by_a_key_scoped_to_b_never_touches_a(
    app: FastAPI,
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    admin: dict[str, str],
    make_key: KeyMaker,
    two: Two,
) -> None:
    bdt = await partner_id(client, "BDT")
    action_a = (await make_action(client, admin))["id"]
    action_b = (await make_action(client, admin, chantier_id=two.chantier_b))["id"]
    batch = f"/v1/partners/{bdt}/commitments"
    seeded = await client.put(
        batch,
        json={"items": [_item(action_a, "A-1"), _item(action_b, "B-1"), _item(action_b, "B-2")]},
        headers=admin,
    )
    assert seeded.json()["created"] == 3, seeded.text
    key = await make_key(Role.partner, "BDT", programmes=[B])
    before = await count(connection, "commitments")

    # One by reference: A's commitment answers like a missing one, whatever the body says.
    body = {k: v for k, v in _item(action_b, "A-1").items() if k != "external_ref"}
    one = await client.put(f"{batch}/A-1", json=body, headers=key)
    assert assert_problem(one, 404)["detail"] == f"No commitment of partner {bdt} has 'A-1'."

    # A batch naming A's reference: every such item reported, nothing written.
    bad = await client.put(
        batch, json={"items": [_item(action_b, "B-1"), _item(action_b, "A-1")]}, headers=key
    )
    assert pointers(assert_problem(bad, 422)) == ["/items/1/external_ref"]
    assert await count(connection, "commitments") == before

    # Prune: "the complete list" is of the key's programmes only; A's commitment stays.
    pruned = await client.put(
        batch, json={"items": [_item(action_b, "B-1")], "prune": {}}, headers=key
    )
    assert pruned.status_code == 200, pruned.text
    assert pruned.json()["deleted"] == 1  # B-2
    refs = await connection.scalars(
        text("SELECT external_ref FROM commitments WHERE partner_id = :p ORDER BY 1"), {"p": bdt}
    )
    assert list(refs) == ["A-1", "B-1"]


# --- the command line -------------------------------------------------------------------------


async def test_cli_creates_a_key_scoped_to_programmes(
    own_database: str, settings: Settings
) -> None:
    conn = await asyncpg.connect(plain(own_database))
    try:
        await conn.execute(
            "INSERT INTO programmes (code, name, start_year, end_year, territory_code, version) "
            "VALUES ($1, 'B', 2023, 2026, '200054807', 1)",
            B,
        )
        a = settings.programme.first_code
        args = ("keys", "create", "--role", "editor", "--name", "two")
        created = await asyncio.to_thread(relance_anyway, own_database, *args, "--programme", a,
                                          "--programme", B)  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert f"scoped to {a}, {B}" in created.stdout
        assert created.stdout.strip().splitlines()[-1].startswith("rk_")
        scope = await conn.fetch(
            "SELECT p.code FROM api_key_programmes l JOIN api_keys k ON k.id = l.api_key_id "
            "JOIN programmes p ON p.id = l.programme_id WHERE k.name = 'two' ORDER BY 1"
        )
        assert sorted([a, B]) == [r["code"] for r in scope]

        unknown = await asyncio.to_thread(
            relance_anyway, own_database, *args, "--programme", "NOPE"
        )
        assert unknown.returncode != 0
        assert "no programme has code 'NOPE'" in unknown.stderr
        admin = await asyncio.to_thread(
            relance_anyway, own_database, "keys", "create", "--role", "admin", "--name", "x",
            "--programme", a,
        )  # fmt: skip
        assert admin.returncode != 0
        assert "admin key reaches all" in admin.stderr
        assert await conn.fetchval("SELECT count(*) FROM api_keys") == 1
    finally:
        await conn.close()
