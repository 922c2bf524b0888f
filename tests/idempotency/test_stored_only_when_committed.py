"""Stripe's rule: an Idempotency-Key keeps an answer only when the request's transaction committed
its writes. A refused request (429, 401, 403, 422, a 409 rolled back) stores nothing, and the
same key, retried, then creates the resource: 201, not a replay."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from limits.aio import strategies as limits_strategies
from limits.aio.storage import memory as limits_memory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.config import RateLimitSettings, Settings
from app.main import attach_database, create_app
from app.models.enums import Role
from app.ratelimit import service as ratelimit_service
from tests.conftest import KeyMaker, assert_problem, count
from tests.factories import make_action, partner_id

PARTNER = {"code": "ETAT", "name": "État", "kind": "state"}


def _created_not_replayed(response: httpx.Response) -> None:
    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers


class LimiterClock:
    """The rate limiter's clock, stopped: waiting Retry-After seconds is advancing it, so that
    a slow machine never lets a window pass between two requests of the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> LimiterClock:
    clock = LimiterClock()
    fake = SimpleNamespace(time=clock.time, monotonic=time.monotonic)
    for module in (limits_memory, limits_strategies, ratelimit_service):
        monkeypatch.setattr(module, "time", fake)
    return clock


@pytest.fixture
async def limited_client(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    limiter_clock: LimiterClock,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that allows each key one request a second (on the stopped clock)."""
    rate = RateLimitSettings(per_key="1/second", redis_prefix=f"relance-test-{uuid.uuid4().hex}")
    app: FastAPI = create_app(settings.model_copy(update={"rate_limit": rate}))
    attach_database(app, engine, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_429_is_not_stored_and_the_retry_after_retry_after_creates(
    limited_client: httpx.AsyncClient,
    limiter_clock: LimiterClock,
    admin: dict[str, str],
    connection: AsyncConnection,
) -> None:
    headers = admin | {"Idempotency-Key": "after-429"}
    assert (await limited_client.get("/v1/chantiers", headers=admin)).status_code == 200
    refused = await limited_client.post("/v1/partners", json=PARTNER, headers=headers)
    assert_problem(refused, 429, "RATE_LIMITED")
    assert await count(connection, "idempotency_keys") == 0  # refused before the key was seen
    limiter_clock.now += int(refused.headers["Retry-After"])  # the client waits as told
    _created_not_replayed(await limited_client.post("/v1/partners", json=PARTNER, headers=headers))
    assert await count(connection, "partners WHERE code = 'ETAT'") == 1


async def test_a_401_then_a_valid_key_creates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    key = {"Idempotency-Key": "after-401"}
    unknown = {"Authorization": "Bearer rk_000000000000_unknown"} | key
    assert_problem(await client.post("/v1/partners", json=PARTNER, headers=unknown), 401)
    _created_not_replayed(await client.post("/v1/partners", json=PARTNER, headers=admin | key))


async def test_a_403_then_a_body_the_key_may_write_creates(
    client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    bdt_key = await make_key(Role.partner, "BDT") | {"Idempotency-Key": "after-403"}
    action = await make_action(client, admin)
    body = {"action_id": action["id"], "year": 2024, "amount": "10.00", "instrument": "loan"}
    other = body | {"partner_id": await partner_id(client, "AMP")}
    assert_problem(await client.post("/v1/commitments", json=other, headers=bdt_key), 403)
    own = body | {"partner_id": await partner_id(client, "BDT")}
    _created_not_replayed(await client.post("/v1/commitments", json=own, headers=bdt_key))


async def test_a_422_then_a_corrected_body_creates(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    headers = admin | {"Idempotency-Key": "after-422"}
    bad = await client.post("/v1/partners", json=PARTNER | {"kind": "nope"}, headers=headers)
    assert_problem(bad, 422, "VALIDATION_ERROR")
    _created_not_replayed(await client.post("/v1/partners", json=PARTNER, headers=headers))
    assert await count(connection, "partners WHERE code = 'ETAT'") == 1


async def test_a_409_conflict_rolled_back_then_a_fixed_body_creates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = admin | {"Idempotency-Key": "after-409"}
    taken = await client.post("/v1/partners", json=PARTNER | {"code": "AMP"}, headers=headers)
    assert_problem(taken, 409, "CONFLICT")
    _created_not_replayed(await client.post("/v1/partners", json=PARTNER, headers=headers))


async def test_the_committed_answer_is_the_one_replayed(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = admin | {"Idempotency-Key": "refused-then-created"}
    assert_problem(await client.post("/v1/partners", json={}, headers=headers), 422)
    created = await client.post("/v1/partners", json=PARTNER, headers=headers)
    again = await client.post("/v1/partners", json=PARTNER, headers=headers)
    assert (created.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == created.json()
