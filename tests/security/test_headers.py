"""Headers on every answer: nosniff everywhere, no-store on secrets, and redirects that never
repeat the client's Host."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.main import attach_database, create_app
from app.ops.middleware import relative_location
from tests.conftest import assert_problem

PARTNER = {"code": "ETAT", "name": "État", "kind": "state"}


def _nosniff(response: httpx.Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", (
        response.status_code,
        response.headers,
    )


async def test_every_kind_of_answer_says_nosniff(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answers = [
        await client.get("/v1/priorities"),  # JSON
        await client.get("/v1/nowhere"),  # problem+json 404
        await client.get("/v1/commitments", params={"bogus": "1"}),  # problem+json 400
        await client.post("/v1/partners", json={"code": "X"}, headers=admin),  # 422
        await client.get("/v1/aggregates/commitments.csv", params={"drilldown": "year"}),  # CSV
        await client.get("/docs"),
        await client.get("/openapi.json"),
        await client.get("/healthz"),
        await client.get("/v1/priorities/"),  # the trailing-slash redirect
    ]
    created = await client.post("/v1/partners", json=PARTNER, headers=admin)
    answers.append(created)
    answers.append(
        await client.get(
            created.headers["Location"], headers={"If-None-Match": created.json()["etag"]}
        )
    )
    assert answers[-1].status_code == 304
    key = admin | {"Idempotency-Key": "nosniff-1"}
    body = {"code": "ETAT2", "name": "État 2", "kind": "state"}
    first = await client.post("/v1/partners", json=body, headers=key)
    replayed = await client.post("/v1/partners", json=body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    answers += [first, replayed]
    for answer in answers:
        _nosniff(answer)


async def test_the_body_limit_answer_says_nosniff(
    settings: Settings, engine: Any, sessionmaker: Any, admin: dict[str, str]
) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    attach_database(app, engine, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        big = {"code": "BIG", "name": "x" * 4000, "kind": "state"}
        refused = await client.post("/v1/partners", json=big, headers=admin)
    assert_problem(refused, 413)
    _nosniff(refused)


async def test_the_trailing_slash_redirect_is_relative_whatever_the_host(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get(
        "/v1/priorities/", params={"limit": "2"}, headers={"Host": "evil.example"}
    )
    assert answer.status_code == 307
    assert answer.headers["location"] == "/v1/priorities?limit=2"
    followed = await client.get(answer.headers["location"])
    assert followed.status_code == 200


def test_relative_location_never_keeps_a_host() -> None:
    assert relative_location(b"http://evil.example/v1/x?a=1") == b"/v1/x?a=1"
    assert relative_location(b"//evil.example/v1/x") == b"/v1/x"
    assert relative_location(b"http://evil.example//evil.example/x") == b"/evil.example/x"
    assert relative_location(b"http://evil.example") == b"/"
    assert relative_location(b"/v1/partners/1") == b"/v1/partners/1"


def _returns_a_secret(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    ref = schema.get("$ref", "")
    if ref:
        schema = components[ref.rsplit("/", 1)[-1]]
    return "key" in schema.get("properties", {})


async def test_every_answer_carrying_a_key_says_no_store(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document = app.openapi()
    components = document["components"]["schemas"]
    carrying = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for code, response in operation["responses"].items()
        if code.startswith("2")
        and _returns_a_secret(
            response.get("content", {}).get("application/json", {}).get("schema", {}),
            components,
        )
    }
    assert carrying == {("POST", "/v1/api-keys")}  # a new route with a secret: add it here
    created = await client.post(
        "/v1/api-keys", json={"name": "ci", "role": "editor"}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["key"]
    assert created.headers["cache-control"] == "no-store"
    _nosniff(created)


async def test_an_unexpected_error_says_nosniff(app: FastAPI) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/broken-for-test", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/v1/broken-for-test")
    assert_problem(answer, 500)
    _nosniff(answer)
