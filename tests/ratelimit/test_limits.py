"""Rate limits: 429 with Retry-After per key, per address without a key, shared through Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import RateLimitSettings, Settings
from app.main import attach_database, create_app
from tests.conftest import KeyMaker, assert_problem, clear_of_a_window_edge

REDIS_URL = "redis://127.0.0.1:6379/0"


def _limited(settings: Settings, **limits: str | None) -> Settings:
    prefix = f"relance-test-{uuid.uuid4().hex[:8]}"  # runs and tests never share counters
    rate = RateLimitSettings.model_validate({"redis_prefix": prefix, **limits})
    return settings.model_copy(update={"rate_limit": rate})


def _app(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> FastAPI:
    app = create_app(settings)
    attach_database(app, engine, sessionmaker)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    admin: dict[str, str],
    editor: dict[str, str],
) -> None:
    app = _app(_limited(settings, per_key="3/hour"), engine, sessionmaker)
    await clear_of_a_window_edge(3600)
    async with _client(app) as client:
        for _ in range(3):
            assert (await client.get("/v1/chantiers", headers=admin)).status_code == 200
        refused = await client.get("/v1/chantiers", headers=admin)
        body = assert_problem(refused, 429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert refused.headers["RateLimit-Limit"] == "3"
        assert "3 requests per 1 hour" in body["detail"]
        # another key has its own window
        assert (await client.get("/v1/chantiers", headers=editor)).status_code == 200


async def test_anonymous_callers_are_limited_by_address(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = _app(_limited(settings, anonymous="2/hour"), engine, sessionmaker)
    await clear_of_a_window_edge(3600)
    async with _client(app) as client:
        assert (await client.get("/v1/partners")).status_code == 200
        assert (await client.get("/v1/partners")).status_code == 200
        assert_problem(await client.get("/v1/partners"), 429)
        assert (await client.get("/healthz")).status_code == 200  # probes are never limited


async def test_no_limit_configured_means_no_limit(client: httpx.AsyncClient) -> None:
    for _ in range(20):
        assert (await client.get("/v1/priorities")).status_code == 200


async def test_replicas_share_the_count_through_redis(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_key: KeyMaker,
) -> None:
    shared = _limited(settings, per_key="4/minute").model_copy(
        update={"redis_url": SecretStr(REDIS_URL)}
    )
    first, second = _app(shared, engine, sessionmaker), _app(shared, engine, sessionmaker)
    key = await make_key()
    await clear_of_a_window_edge(60)
    async with _client(first) as a, _client(second) as b:
        statuses = [
            (await client.get("/v1/chantiers", headers=key)).status_code
            for client in (a, b, a, b, a)
        ]
    assert statuses == [200, 200, 200, 200, 429]


async def test_without_redis_each_process_counts_alone(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    admin: dict[str, str],
) -> None:
    alone = _limited(settings, per_key="2/minute")
    first, second = _app(alone, engine, sessionmaker), _app(alone, engine, sessionmaker)
    async with _client(first) as a, _client(second) as b:
        statuses = [(await c.get("/v1/chantiers", headers=admin)).status_code for c in (a, a, b, b)]
    assert statuses == [200, 200, 200, 200]


async def test_an_unreachable_redis_does_not_take_the_api_down(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    broken = _limited(settings, anonymous="1/minute").model_copy(
        update={"redis_url": SecretStr("redis://127.0.0.1:1/0")}
    )
    async with _client(_app(broken, engine, sessionmaker)) as client:
        assert (await client.get("/v1/partners")).status_code == 200
        assert (await client.get("/v1/partners")).status_code == 200


def test_a_malformed_limit_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="per_key"):
        RateLimitSettings(per_key="lots")


async def test_metrics_docs_and_the_openapi_document_are_limited_but_probes_never(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        app = _app(_limited(settings, anonymous="2/minute"), engine, sessionmaker)
        await clear_of_a_window_edge(60)
        async with _client(app) as client:
            for _ in range(2):
                assert (await client.get(path)).status_code == 200, path
            assert_problem(await client.get(path), 429, "RATE_LIMITED")
            for _ in range(5):  # orchestrators poll these from one address: never a 429
                assert (await client.get("/healthz")).status_code == 200
                assert (await client.get("/readyz")).status_code == 200
