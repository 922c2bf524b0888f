"""Heavy requests in flight per client: the one over RATE_LIMIT__HEAVY_CONCURRENT is refused
at once (429 TOO_MANY_CONCURRENT, Retry-After), per key or per address, and a finished one
frees its place. Light requests are never counted. (tests/starve/test_slow_readers.py shows it
on a real server, with exports held by clients that do not read.)"""

from __future__ import annotations

import asyncio
import re

import httpx
from starlette.types import Receive, Scope, Send

from app.ratelimit.concurrency import HeavyRequestLimitMiddleware
from tests.conftest import assert_problem


class Held:
    """An app whose requests wait until released, so that they stay in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self.arrivals: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        self.arrivals.put_nowait(None)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _client(app: HeavyRequestLimitMiddleware, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _arrived(held: Held, requests: int) -> None:
    for _ in range(requests):
        await asyncio.wait_for(held.arrivals.get(), 10)


async def test_the_request_over_the_limit_is_429_at_once_and_a_finished_one_frees_its_place() -> (
    None
):
    held = Held()
    app = HeavyRequestLimitMiddleware(held, limit=2, heavy_paths=[re.compile(r"^/heavy$")])
    async with _client(app, "10.0.0.1") as one, _client(app, "10.0.0.2") as other:
        in_flight = [asyncio.create_task(one.get("/heavy")) for _ in range(2)]
        await _arrived(held, 2)
        refused = await one.get("/heavy")
        body = assert_problem(refused, 429, "TOO_MANY_CONCURRENT")
        assert "2 heavy requests" in body["detail"]
        assert refused.headers["retry-after"] == "1"
        assert held.entered == 2  # the refused request never reached the app

        elsewhere = asyncio.create_task(other.get("/heavy"))  # another client has its own count
        light = asyncio.create_task(one.get("/light"))  # light requests are not counted
        await _arrived(held, 2)
        held.release.set()
        statuses = [r.status_code for r in await asyncio.gather(*in_flight, elsewhere, light)]
        assert statuses == [200, 200, 200, 200]
        assert app.in_flight == {}  # every place freed
        assert (await one.get("/heavy")).status_code == 200
