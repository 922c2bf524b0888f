"""What a real `relance serve` believes and says in headers: X-Forwarded-For only from the
configured proxies (the anonymous rate limit counts client addresses), no `server` header."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.conftest import clear_of_a_window_edge
from tests.processes import free_port, serve, wait_ready

LIMIT = {"RATE_LIMIT__ANONYMOUS": "3/minute"}


@asynccontextmanager
async def served(url: str, log: Path, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    server: subprocess.Popen[bytes] = serve(url, port, log=log, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 20)


async def statuses(client: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    return [
        (await client.get("/v1/priorities", headers={"X-Forwarded-For": ip})).status_code
        for ip in forwarded_for
    ]


async def test_a_rotating_x_forwarded_for_does_not_escape_the_anonymous_limit(
    own_database: str, tmp_path: Path
) -> None:
    rotating = [f"203.0.113.{i}" for i in range(1, 7)]
    async with served(own_database, tmp_path / "serve.log", **LIMIT) as client:
        await clear_of_a_window_edge(60)
        answered = await statuses(client, rotating)
    assert answered == [200, 200, 200, 429, 429, 429]  # all six counted as 127.0.0.1


async def test_x_forwarded_for_is_believed_from_a_configured_proxy(
    own_database: str, tmp_path: Path
) -> None:
    proxy = LIMIT | {"FORWARDED_ALLOW_IPS": "127.0.0.1"}
    async with served(own_database, tmp_path / "serve.log", **proxy) as client:
        await clear_of_a_window_edge(60)
        rotating = await statuses(client, [f"203.0.113.{i}" for i in range(1, 7)])
        one_client = await statuses(client, ["198.51.100.7"] * 4)
    assert rotating == [200] * 6  # six clients behind the proxy, one request each
    assert one_client == [200, 200, 200, 429]


async def test_answers_carry_a_date_and_no_server_header(own_database: str, tmp_path: Path) -> None:
    async with served(own_database, tmp_path / "serve.log") as client:
        answers = [await client.get(p) for p in ("/healthz", "/v1/priorities", "/v1/nowhere")]
    for answer in answers:
        assert "server" not in answer.headers, answer.headers
        assert answer.headers["date"].endswith(" GMT")


def test_forwarded_allow_ips_takes_addresses_and_networks_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().forwarded_allow_ips == []  # off by default: no proxy is believed
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.168.1.4,::1")
    assert Settings().forwarded_allow_ips == ["10.0.0.0/8", "192.168.1.4", "::1"]
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8,proxy.internal")
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        Settings()
