"""Huge error answers: `errors[]` lists at most MAX_LISTED_ERRORS and counts the rest in
`more_errors`; an object with many unknown fields is one error, so the work stays bounded."""

from __future__ import annotations

import json

import httpx

from app.common.schemas import MAX_UNKNOWN_FIELDS
from app.errors import MAX_LISTED_ERRORS
from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem

JSON = {"content-type": "application/json"}


async def _batch_route(client: httpx.AsyncClient) -> str:
    partners = (await client.get("/v1/partners", params={"limit": 50})).json()["items"]
    return f"/v1/partners/{next(p['id'] for p in partners if p['code'] == 'BDT')}/commitments"


async def test_a_body_with_100000_unknown_fields_is_one_small_error(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.admin) | JSON
    body = json.dumps({"code": "X", "name": "x"} | {f"f{i}": 1 for i in range(100_000)})
    for method, route in (("POST", "/v1/priorities"), ("PUT", await _batch_route(client))):
        response = await client.request(method, route, content=body, headers=key)
        problem = assert_problem(response, 422, "VALIDATION_ERROR")
        assert len(problem["errors"]) == 1, route
        assert "100002 fields" in problem["errors"][0]["detail"]
        assert len(response.content) < 2_000


async def test_a_batch_of_10000_bad_items_lists_100_and_counts_the_rest(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.partner, "BDT") | JSON
    item = {"external_ref": "R", "action_id": "not-a-uuid", "year": 2024, "amount": "1"}
    items = [item | {"external_ref": f"R{i}"} for i in range(10_000)]
    response = await client.put(await _batch_route(client), json={"items": items}, headers=key)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert len(problem["errors"]) == MAX_LISTED_ERRORS
    total = 10_000 * 2  # action_id and the missing instrument, in every item
    assert problem["more_errors"] == total - MAX_LISTED_ERRORS
    assert problem["errors"][0]["pointer"].startswith("/items/0/")


async def test_items_with_many_unknown_fields_are_one_error_each(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.partner, "BDT") | JSON
    junk = {f"f{i}": 1 for i in range(MAX_UNKNOWN_FIELDS + 20)}
    items = [junk | {"external_ref": f"R{i}"} for i in range(2_000)]
    response = await client.put(await _batch_route(client), json={"items": items}, headers=key)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert len(problem["errors"]) == MAX_LISTED_ERRORS
    assert problem["more_errors"] == 2_000 - MAX_LISTED_ERRORS
    assert problem["errors"][0]["pointer"] == "/items/0"


async def test_a_short_error_list_has_no_more_errors(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.admin) | JSON
    response = await client.post("/v1/priorities", json={"code": "X", "bogus": 1}, headers=key)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "more_errors" not in problem
    assert 1 <= len(problem["errors"]) < MAX_LISTED_ERRORS
