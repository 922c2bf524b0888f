"""Authentication as a pipeline step: the key resolved once, before the body is read, and a
refused key counted by the rate limit against its address."""

from __future__ import annotations

import ast
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import RateLimitSettings, Settings
from app.main import attach_database, create_app
from tests.conftest import assert_problem, clear_of_a_window_edge

ROOT = Path(__file__).resolve().parents[2]
PARTNER = {"code": "ETAT", "name": "État", "kind": "state"}


class BodyReadCounter:
    """Wraps an ASGI app and counts the body bytes the app pulled from the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


async def _fastest(client: httpx.AsyncClient, body: bytes, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.post(
            "/v1/partners", content=body, headers={"Content-Type": "application/json"}
        )
        best = min(best, time.perf_counter() - started)
        assert_problem(response, 401, "UNAUTHORIZED")
    return best


async def test_an_anonymous_8_mib_body_is_refused_401_without_being_read(app: FastAPI) -> None:
    limit = app.state.settings.max_body_bytes
    assert limit == 8 * 1024 * 1024
    big = b"[" + b"0," * ((limit - 2) // 2 - 1) + b"0]"  # 4 million numbers to parse
    assert len(big) <= limit
    counter = BodyReadCounter(app)
    transport = httpx.ASGITransport(app=counter)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small_time = await _fastest(client, b"{}")
        counter.read = 0
        big_time = await _fastest(client, big)
    assert counter.read == 0  # not a byte of it was read, let alone parsed
    # Same order of time as a small body (generous: the best of 5 runs each, a factor 10).
    assert big_time < 10 * small_time, (big_time, small_time)


async def test_an_unknown_key_is_refused_before_its_body_is_read(app: FastAPI) -> None:
    counter = BodyReadCounter(app)
    transport = httpx.ASGITransport(app=counter)
    headers = {"Authorization": "Bearer rk_000000000000_unknown"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/v1/partners", json=PARTNER, headers=headers)
        assert_problem(refused, 401, "UNAUTHORIZED")
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert counter.read == 0
        # Missing routes and methods keep their own answers.
        assert_problem(await client.post("/v1/nothing", json={}), 404, "NOT_FOUND")
        assert_problem(await client.put("/v1/chantiers", json={}), 405, "METHOD_NOT_ALLOWED")


async def test_failed_authentications_count_against_the_client_address(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    rate = RateLimitSettings(anonymous="2/minute", redis_prefix=f"relance-t-{uuid.uuid4().hex}")
    app = create_app(settings.model_copy(update={"rate_limit": rate}))
    attach_database(app, engine, sessionmaker)
    guesses = [{"Authorization": f"Bearer rk_00000000000{n}_guess"} for n in range(3)]
    await clear_of_a_window_edge(60)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [(await client.get("/v1/chantiers", headers=h)).status_code for h in guesses]
    assert statuses == [401, 401, 429]


async def test_each_request_looks_its_key_up_once_and_signs_its_writes(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    lookups: list[str] = []

    def count_lookups(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_keys" in statement and "prefix" in statement:
            lookups.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_lookups)
    try:
        created = await client.post("/v1/partners", json=PARTNER, headers=admin)
        patched = await client.patch(
            created.headers["Location"], json={"name": "État français"}, headers=admin
        )
        idempotent = await client.post(
            "/v1/partners",
            json=PARTNER | {"code": "ETAT2"},
            headers=admin | {"Idempotency-Key": "once"},
        )
    finally:
        event.remove(engine, "before_cursor_execute", count_lookups)
    statuses = (created.status_code, patched.status_code, idempotent.status_code)
    assert statuses == (201, 200, 201)
    assert len(lookups) == 3  # one per request
    for url in (created.headers["Location"], idempotent.headers["Location"]):
        history = (await client.get(f"{url}/history")).json()
        assert {v["actor"]["name"] for v in history["items"]} == {"test admin"}


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "app" / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_only_the_authentication_step_resolves_keys() -> None:
    """Idempotency and rate limit read the principal from request state: neither imports auth,
    so neither can look a key up again."""
    for package in ("idempotency", "ratelimit"):
        assert not {m for m in _imports(package) if m.startswith("app.auth")}, package
    assert "app.partners.repository" not in _imports("auth")  # layering: auth under partners
