"""Every failure is problem+json: FastAPI's and Starlette's own errors too, never a stack trace."""

from __future__ import annotations

import httpx
from asyncpg.exceptions import DeadlockDetectedError
from sqlalchemy.exc import DBAPIError

from app.errors import (
    STATUSES,
    AppError,
    CursorExpired,
    ServiceBusy,
    ServiceUnavailable,
    failure_cause,
    problems,
)
from tests.conftest import assert_problem, pointers


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


def _error_types(cls: type[AppError] = AppError) -> list[type[AppError]]:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _error_types(direct)]


def test_every_error_type_takes_its_title_from_the_one_status_table() -> None:
    for error in _error_types():
        assert error.status in STATUSES, error
        assert error.title == STATUSES[error.status].title, error
    assert (CursorExpired.status, CursorExpired.reason) == (410, "CURSOR_EXPIRED")
    assert (ServiceBusy.status, ServiceBusy.reason) == (503, "SERVICE_BUSY")
    assert ServiceUnavailable.reason == "SERVICE_UNAVAILABLE"


def test_the_documented_responses_come_from_the_same_table() -> None:
    documented = problems(409, 503)
    assert documented[409]["description"] == STATUSES[409].description
    assert "SERVICE_BUSY" in documented[503]["description"]
    assert "SERVICE_UNAVAILABLE" in documented[503]["description"]


async def test_an_api_key_for_an_unknown_partner_is_422_naming_partner_id(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"name": "x", "role": "partner", "partner_id": "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"}
    response = await client.post("/v1/api-keys", json=body, headers=admin)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert pointers(problem) == ["/partner_id"]
    assert "INSERT" not in response.text


def test_a_503_log_line_names_the_drivers_error_and_its_sqlstate() -> None:
    """`database service_unavailable: Error` told ops nothing: the driver's class and code."""

    class Wrapper(Exception):  # as SQLAlchemy's asyncpg adapter wraps the driver's error
        pass

    orig = Wrapper("deadlock")
    orig.__cause__ = DeadlockDetectedError("deadlock detected")
    wrapped = DBAPIError("INSERT ...", {}, orig)
    assert failure_cause(wrapped) == "DeadlockDetectedError 40P01"
    assert failure_cause(TimeoutError()) == "TimeoutError"
