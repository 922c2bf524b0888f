"""Every failure is problem+json: FastAPI's and Starlette's own errors too, never a stack trace."""

from __future__ import annotations

import httpx

from tests.conftest import assert_problem


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "NOT_FOUND")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put("/v1/chantiers"), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_422_problem(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/partners",
        content=b'{"code": "X",',
        headers=admin | {"Content-Type": "application/json"},
    )
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "Traceback" not in response.text
    assert body["errors"]


async def test_integrity_error_never_leaks_sql(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"code": "AMP", "name": "again", "kind": "metropole"}
    response = await client.post("/v1/partners", json=body, headers=admin)
    assert_problem(response, 409)
    assert "duplicate key" not in response.text
    assert "INSERT" not in response.text
