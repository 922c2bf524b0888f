"""A hung database (its processes stopped, not closed: connections open, nothing answers) is a
503 within the client-side timeouts, on pooled connections (statements, the idle ping) and new
ones (connect) alike, and the service recovers when it answers again.

The database is reached through a TCP proxy that can freeze: while frozen it accepts and keeps
connections but forwards nothing, which is what a SIGSTOPped PostgreSQL looks like to a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
from sqlalchemy.engine import make_url

from app.config import DatabaseSettings, Settings
from app.db import create_engine
from app.main import attach_database, create_app
from tests.conftest import assert_problem

BOUND = 1.0  # the test's timeouts, in seconds; the defaults are 5 s


class FreezableProxy:
    def __init__(self, host: str, port: int, socket_path: str | None = None) -> None:
        self.target = (host, port)
        self.socket_path = socket_path  # the embedded server listens on a Unix socket only
        self.running = asyncio.Event()
        self.running.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        self.running.clear()

    def thaw(self) -> None:
        self.running.set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.running.wait()  # frozen: the connection is accepted, then nothing happens
        if self.socket_path is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                await self.running.wait()
                sink.write(data)
                await sink.drain()
        sink.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()


@contextlib.asynccontextmanager
async def proxied(database_url: str) -> AsyncIterator[tuple[FreezableProxy, str]]:
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    socket_path = None
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        socket_path = f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
        url = url.difference_update_query(["host"])
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432, socket_path)
    port = await proxy.start()
    try:
        proxied_url = url.set(host="127.0.0.1", port=port)
        yield proxy, proxied_url.render_as_string(hide_password=False)
    finally:
        proxy.thaw()
        await proxy.close()


async def _timed(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    # ASGITransport has no timeout of its own: without client-side timeouts this would hang.
    response = await asyncio.wait_for(client.get(path), timeout=30)
    return response, time.monotonic() - started


async def test_a_hung_database_is_a_503_then_recovers(database_url: str) -> None:
    async with proxied(database_url) as (proxy, url):
        db = DatabaseSettings(
            pool_size=2,
            pool_timeout_seconds=BOUND,
            connect_timeout_seconds=BOUND,
            command_timeout_seconds=BOUND,
        )
        app = create_app(Settings(database_url=url, db=db))  # type: ignore[arg-type]
        engine = create_engine(app.state.settings)
        attach_database(app, engine)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/v1/chantiers")).status_code == 200
                proxy.freeze()
                fresh, fresh_time = await _timed(client, "/v1/chantiers")  # pooled, not pinged
                await asyncio.sleep(2.2)  # idle past IDLE_BEFORE_PING_SECONDS: pinged first
                pinged, pinged_time = await _timed(client, "/v1/chantiers")
                several = await asyncio.gather(
                    *(_timed(client, "/v1/priorities") for _ in range(4))  # new connections
                )
                ready, _ = await _timed(client, "/readyz")
                healthy = await client.get("/healthz")
                for response, elapsed in (
                    (fresh, fresh_time),
                    (pinged, pinged_time),
                    *several,
                ):
                    assert_problem(response, 503)
                    assert int(response.headers["Retry-After"]) > 0
                    # Generous: the bound is 1 s per step; hung, this took until the wait_for.
                    assert elapsed < 10 * BOUND, elapsed
                assert_problem(ready, 503)
                assert healthy.status_code == 200

                proxy.thaw()
                recovered = [(await client.get("/v1/chantiers")).status_code for _ in range(3)]
                assert recovered[-1] == 200, recovered
        finally:
            proxy.thaw()
            await asyncio.wait_for(engine.dispose(), timeout=30)
