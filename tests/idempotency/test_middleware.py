"""Idempotency-Key on POST: replay, reuse with another body, in progress, per owner, purge."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.idempotency.repository import IdempotencyRepository
from tests.conftest import assert_problem, count

PARTNER = {"code": "ETAT", "name": "État", "kind": "state"}


async def _key_id(connection: AsyncConnection, headers: dict[str, str]) -> str:
    prefix = headers["Authorization"].removeprefix("Bearer rk_")[:12]
    result = await connection.execute(
        text("SELECT id::text FROM api_keys WHERE prefix = :p"), {"p": prefix}
    )
    return str(result.scalar_one())


async def test_replay_returns_the_first_status_and_body_and_writes_once(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "create-etat-1"}
    before = await count(connection, "partners")
    first = await client.post("/v1/partners", json=PARTNER, headers=headers)
    again = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(connection, "partners") == before + 1


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = admin | {"Idempotency-Key": "k-2"}
    assert (await client.post("/v1/partners", json=PARTNER, headers=headers)).status_code == 201
    other = await client.post("/v1/partners", json=PARTNER | {"code": "CD13"}, headers=headers)
    body = assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert body["errors"] == [
        {"parameter": "Idempotency-Key", "detail": "was already used with another request"}
    ]


async def test_keys_are_scoped_per_owner(
    client: httpx.AsyncClient, admin: dict[str, str], editor: dict[str, str]
) -> None:
    first = await client.post(
        "/v1/partners", json=PARTNER, headers=admin | {"Idempotency-Key": "shared"}
    )
    second = await client.post(
        "/v1/partners",
        json=PARTNER | {"code": "CD13"},
        headers=editor | {"Idempotency-Key": "shared"},
    )
    assert (first.status_code, second.status_code) == (201, 201)


async def test_a_duplicate_while_the_first_is_running_is_409(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    owner = await _key_id(connection, admin)
    body = b'{"code":"ETAT","name":"\\u00c9tat","kind":"state"}'
    first = await client.post(
        "/v1/partners",
        content=body,
        headers=admin | {"Idempotency-Key": "running", "Content-Type": "application/json"},
    )
    assert first.status_code == 201
    # Make the stored claim look unfinished, as while the first request is still running.
    await connection.execute(
        text(
            "UPDATE idempotency_keys SET completed_at = NULL, status_code = NULL"
            " WHERE owner_id = CAST(:o AS uuid)"
        ),
        {"o": owner},
    )
    again = await client.post(
        "/v1/partners",
        content=body,
        headers=admin | {"Idempotency-Key": "running", "Content-Type": "application/json"},
    )
    assert_problem(again, 409, "REQUEST_IN_PROGRESS")
    assert again.headers["Retry-After"] == "1"


async def test_api_key_creation_is_never_replayed_with_its_secret(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "mint-1"}
    body = {"name": "ops", "role": "editor"}
    first = await client.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == 201
    assert first.headers["Cache-Control"] == "no-store"
    again = await client.post("/v1/api-keys", json=body, headers=headers)
    problem = assert_problem(again, 409, "REQUEST_ALREADY_APPLIED")
    assert first.json()["key"] not in again.text
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in again.headers
    assert "secret" in problem["detail"]
    assert await count(connection, "api_keys WHERE name = 'ops'") == 1  # created once


async def test_no_table_holds_the_secret_of_a_key_created_with_an_idempotency_key(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "mint-2"}
    body = {"name": "n", "role": "editor"}
    created = await client.post("/v1/api-keys", json=body, headers=headers)
    secret = created.json()["key"]
    assert secret.startswith("rk_")
    tables = await connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    )
    names = [name for (name,) in tables]
    assert {"idempotency_keys", "api_keys"} <= set(names)
    for name in names:
        rows = await connection.execute(text(f'SELECT t::text FROM "{name}" AS t'))
        dump = "\n".join(row for (row,) in rows)
        # bytea columns print as hex: look for the secret in both forms.
        assert secret not in dump, name
        assert secret.encode().hex() not in dump, name
    stored = await connection.execute(
        text("SELECT status_code, response_body FROM idempotency_keys WHERE key = 'mint-2'")
    )
    assert stored.one() == (201, None)  # the outcome is kept, its body withheld


async def test_expired_keys_are_purged_and_bad_header_is_400(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    owner = await _key_id(connection, admin)
    await connection.execute(
        text(
            "INSERT INTO idempotency_keys (owner_id, key, fingerprint, created_at)"
            " VALUES (CAST(:o AS uuid), 'old', 'x', now() - interval '25 hours')"
        ),
        {"o": owner},
    )
    await client.post("/v1/partners", json=PARTNER, headers=admin | {"Idempotency-Key": "new"})
    keys = await connection.execute(text("SELECT key FROM idempotency_keys ORDER BY key"))
    assert [k for (k,) in keys] == ["new"]
    bad = await client.post("/v1/partners", json=PARTNER, headers=admin | {"Idempotency-Key": ""})
    assert_problem(bad, 400, "INVALID_PARAMETER")


async def test_idempotency_key_with_an_unknown_api_key_is_401(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer rk_000000000000_x", "Idempotency-Key": "a"}
    assert_problem(await client.post("/v1/partners", json=PARTNER, headers=headers), 401)


async def test_a_database_failure_after_the_answer_keeps_the_answer_and_the_connection(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 201 stands, and nothing is raised into the server (which would drop the client's
    connection). The answer waits in the process; once the database is back it is stored
    before the next claim, so the retry gets the first answer instead of a second write."""

    async def unreachable(*_: object) -> None:
        raise ConnectionRefusedError("the database went away")

    monkeypatch.setattr(IdempotencyRepository, "complete", unreachable)
    headers = admin | {"Idempotency-Key": "lost-answer"}
    first = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert first.status_code == 201
    assert await count(connection, "partners WHERE code = 'ETAT'") == 1
    # Still away: the waiting answer cannot be written, so nothing is claimed either.
    assert_problem(await client.post("/v1/partners", json=PARTNER, headers=headers), 503)
    monkeypatch.undo()
    again = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await count(connection, "partners WHERE code = 'ETAT'") == 1


async def test_a_successful_post_marks_its_key_applied_in_the_same_transaction(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "applied-1"}
    assert (await client.post("/v1/partners", json=PARTNER, headers=headers)).status_code == 201
    refused = await client.post(
        "/v1/partners", json=PARTNER | {"code": "X"}, headers=admin | {"Idempotency-Key": "k2"}
    )
    assert refused.status_code == 422
    rows: dict[str, bool] = dict(
        (
            await connection.execute(
                text("SELECT key, applied_at IS NOT NULL FROM idempotency_keys")
            )
        ).all()
    )
    assert rows == {"applied-1": True}  # the refused request wrote nothing: its key is free


async def test_release_never_frees_an_applied_key(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    """A commit that went through although its caller saw it fail (the connection dropped
    during COMMIT) must not be run again: releasing the key leaves an applied one in place."""
    headers = admin | {"Idempotency-Key": "applied-2"}
    assert (await client.post("/v1/partners", json=PARTNER, headers=headers)).status_code == 201
    owner = await _key_id(connection, admin)
    async with app.state.sessionmaker() as session:
        await IdempotencyRepository(session).release(uuid.UUID(owner), "applied-2")
        await session.commit()
    assert await count(connection, "idempotency_keys WHERE key = 'applied-2'") == 1


async def _lose_the_answer(connection: AsyncConnection, key: str, applied: bool) -> None:
    """What a database outage right after the commit leaves: a claim with no stored answer."""
    await connection.execute(
        text(
            "UPDATE idempotency_keys SET completed_at = NULL, status_code = NULL,"
            " response_headers = NULL, response_body = NULL,"
            " applied_at = CASE WHEN :applied THEN now() END,"
            " created_at = now() - interval '1 hour' WHERE key = :key"
        ),
        {"key": key, "applied": applied},
    )


async def test_an_applied_request_whose_answer_was_lost_is_never_run_twice(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "lost-answer"}
    before = await count(connection, "partners")
    assert (await client.post("/v1/partners", json=PARTNER, headers=headers)).status_code == 201
    await _lose_the_answer(connection, "lost-answer", applied=True)
    retry = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert_problem(retry, 409, "REQUEST_ALREADY_APPLIED")
    assert await count(connection, "partners") == before + 1


async def test_an_unapplied_request_past_its_lease_runs_again(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "died-before-commit"}
    assert (await client.post("/v1/partners", json=PARTNER, headers=headers)).status_code == 201
    # As if the first attempt had died before its commit: nothing applied, the row removed.
    await connection.execute(text("DELETE FROM partners WHERE code = 'ETAT'"))
    await _lose_the_answer(connection, "died-before-commit", applied=False)
    retry = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert retry.status_code == 201
