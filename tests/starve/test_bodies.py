"""Bodies that must not hurt anyone: JSON nested too deep is a 400 problem before it is parsed,
and an unexpected error is one 500 problem with its request id, logged once."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.models.enums import Role
from app.ops.body_read import MAX_JSON_DEPTH, json_depth_exceeds
from tests.conftest import KeyMaker, assert_problem

JSON = {"content-type": "application/json"}


def _nested(depth: int) -> str:
    return '{"items": [{"amount": ' + "[" * (depth - 3) + "]" * (depth - 3) + "}]}"


async def _partner_id(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/partners", params={"limit": 1})
    return str(response.json()["items"][0]["id"])


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 1000])
async def test_deeply_nested_json_is_a_400_problem_naming_the_limit(
    client: httpx.AsyncClient, make_key: KeyMaker, depth: int
) -> None:
    key = await make_key(Role.admin) | JSON
    batch_route = f"/v1/partners/{await _partner_id(client)}/commitments"
    body = _nested(depth)
    assert depth < 1000 or len(body) <= 2100  # the reported attack: 2 KB
    for response in (
        await client.put(batch_route, content=body, headers=key),
        await client.put(batch_route, content=body, headers=key | {"Idempotency-Key": "k"}),
        await client.post("/v1/priorities", content=body, headers=key),
    ):
        problem = assert_problem(response, 400, "BAD_REQUEST")
        assert str(MAX_JSON_DEPTH) in problem["detail"]
        expected = {"pointer": "", "detail": f"nests deeper than {MAX_JSON_DEPTH}"}
        assert problem["errors"] == [expected]
        assert response.headers["x-request-id"]


async def test_nesting_up_to_the_limit_is_validated_as_usual(
    client: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = await make_key(Role.admin) | JSON
    route = f"/v1/partners/{await _partner_id(client)}/commitments"
    response = await client.put(route, content=_nested(MAX_JSON_DEPTH), headers=key)
    assert_problem(response, 422, "VALIDATION_ERROR")  # the amount is not a decimal string


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(b'{"a": "' + b"[" * 100 + b'"}', 32)
    assert not json_depth_exceeds(b'["\\"' + b"[" * 100 + b'"]', 32)
    assert not json_depth_exceeds(b"[" + b"{}," * 10_000 + b"{}]", 32)  # wide, not deep
    assert json_depth_exceeds(b"[" * 33 + b"]" * 33, 32)
    assert not json_depth_exceeds(b"[" * 32 + b"]" * 32, 32)


async def test_an_unexpected_error_is_one_500_problem_with_its_request_id(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app)  # raises what the app lets escape
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    problem = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "boom" not in problem["detail"]
    assert response.headers["x-request-id"] == "req-boom-1"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, tracebacks


def test_depth_follows_escapes_as_a_parser_reads_them() -> None:
    assert not json_depth_exceeds(b'["\\\\\\"' + b"{" * 40 + b'"]', 32)  # \\ then \" : one string
    assert json_depth_exceeds(b'["\\\\"' + b"," + b"[" * 40 + b"]" * 40 + b"]", 32)


def _random_json(rng: random.Random, depth: int) -> Any:
    """A JSON value nesting up to `depth`; its strings hold brackets, quotes and backslashes."""
    if depth == 0 or rng.random() < 0.2:
        return "".join(rng.choice('ab[]{}"\\ é,:') for _ in range(rng.randrange(6)))
    children = [_random_json(rng, depth - 1) for _ in range(rng.randrange(1, 4))]
    if rng.random() < 0.5:
        return children
    return {f"k{n}{rng.choice('[]{}')}": child for n, child in enumerate(children)}


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def test_depth_agrees_with_the_parser_on_random_bodies() -> None:
    rng = random.Random(20261203)
    seen_bracket_strings = 0
    for _ in range(500):
        value = _random_json(rng, rng.randrange(1, 12))
        body = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        depth = _depth(value)
        seen_bracket_strings += '"[' in body.decode() or ']"' in body.decode()
        for limit in range(max(depth - 2, 0), depth + 2):
            assert json_depth_exceeds(body, limit) is (depth > limit), (body, limit)
    assert seen_bracket_strings > 100  # the slow path (a string holding a bracket) was taken
