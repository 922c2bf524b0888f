"""Shared benchmark plumbing: a scratch database, the served app, load generators, statistics.

Load generators report what they measured as a `Result`; the app is measured over real HTTP
(wrk when installed, else httpx) and the baseline with a bare asyncpg loop in this process.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def load_average() -> str:
    """The machine's load average (1, 5 and 15 min), printed beside every figure: other work
    on the machine skews absolute figures, not the ratios measured in the same run."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- database --------------------------------------------------------------------------------


def server_url() -> tuple[str, str]:
    """The server to benchmark on, and where it comes from.

    BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded PostgreSQL (in its own data
    folder, BENCH_EMBEDDED_DATA_DIR, so that it never stops a test run's server).
    """
    for name in ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"):
        configured = os.environ.get(name)
        if configured:
            return configured, name
    data_dir = Path(os.environ.get("BENCH_EMBEDDED_DATA_DIR", ROOT / ".relance" / "bench-pgdata"))
    # Imported by name: app.embedded is only needed here, and its third-party imports are untyped.
    embedded: Any = importlib.import_module("app.embedded")
    url: str = embedded.start(data_dir, database="postgres")
    return url, f"embedded PostgreSQL in {data_dir}"


# -- the app, served for real ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`relance serve --workers 1` on a free localhost port, against an existing database; or,
    given `asgi` (`module:factory`), that app served by uvicorn as `relance serve` serves the API
    (no access log, no server header), with `env`: a floor to measure the API against."""

    def __init__(
        self,
        database_url: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        asgi: str | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="relance-bench-server-", suffix=".log", delete=False
        )
        # Logging as configured: as deployed. `env` adds settings of the run's own.
        env = os.environ | {"DATABASE_URL": database_url} | (env or {})
        command = [str(Path(sys.executable).with_name("relance")), "serve"]
        if not Path(command[0]).exists():
            command = [sys.executable, "-m", "app.cli"]
        if asgi is not None:
            command = [sys.executable, "-m", "uvicorn", asgi, "--factory", "--no-access-log",
                       "--no-server-header", "--log-level", "warning"]  # fmt: skip
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far; None off Linux."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited early:\n{self.output()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the server was not ready after {within} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # transport errors and unexpected statuses
    cpu_ms: float | None = None  # server CPU per request, when measured

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summarize(count: int, seconds: float, latencies: list[float], errors: int) -> Result:
    latencies.sort()
    return Result(
        requests=count,
        seconds=seconds,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        errors=errors,
    )


async def closed_loop(concurrency: int, make_worker: Callable[[int], Awaitable[None]]) -> None:
    """Run `concurrency` workers (each gets its index) until they all reach their deadline."""
    await asyncio.gather(*(make_worker(i) for i in range(concurrency)))


# -- HTTP load: wrk, or httpx as a fallback --------------------------------------------------

_WRK_SCRIPT = r"""
-- args: ids file ("-" for a fixed path), path prefix
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

local ids = {}
local prefix = nil
function init(args)
  math.randomseed(os.time() * 100 + (seed or 0))
  if args[1] ~= nil and args[1] ~= "-" then
    for line in io.lines(args[1]) do ids[#ids + 1] = line end
    prefix = args[2]
  end
end

function request()
  if prefix ~= nil then
    return wrk.format("GET", prefix .. ids[math.random(#ids)])
  end
  return wrk.format("GET")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %f %f\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


async def raw_connection(url: str) -> Any:
    """An asyncpg connection for a raw baseline, with the session setting of the service's that
    changes plans: JIT off (app.db.create_engine), so that both sides run the same plans."""
    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    return await asyncpg.connect(url, server_settings={"jit": "off"})


def wrk_path() -> str | None:
    if os.environ.get("BENCH_CLIENT", "").lower() == "httpx":
        return None
    return shutil.which("wrk")


def client_description(concurrency: int, threads: int) -> str:
    wrk = wrk_path()
    if wrk is not None:
        return f"wrk ({wrk}), {threads} thread(s), {concurrency} keep-alive connections"
    return f"httpx.AsyncClient in the benchmark process, {concurrency} concurrent tasks"


def run_wrk(
    base_url: str,
    path: str,
    ids: Sequence[str] | None,
    seconds: float,
    concurrency: int,
    threads: int,
) -> Result:
    wrk = wrk_path()
    assert wrk is not None
    with tempfile.TemporaryDirectory(prefix="relance-bench-") as folder:
        script = Path(folder, "bench.lua")
        script.write_text(_WRK_SCRIPT)
        args = ["-"]
        if ids is not None:
            ids_file = Path(folder, "ids.txt")
            ids_file.write_text("\n".join(ids) + "\n")
            args = [str(ids_file), path]
        url = base_url + ("/" if ids is not None else path)
        completed = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
                "--",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    match = re.search(r"^WRK_RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)$", completed.stdout, re.M)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{completed.stdout}\n{completed.stderr}")
    requests, duration_us, errors = (int(match.group(i)) for i in (1, 2, 3))
    p50_us, p99_us = float(match.group(4)), float(match.group(5))
    return Result(requests, duration_us / 1e6, p50_us / 1000, p99_us / 1000, errors)


async def run_httpx(
    base_url: str,
    path: str,
    ids: Sequence[str] | None,
    seconds: float,
    concurrency: int,
) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    count = 0
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10.0) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(index: int) -> None:
            nonlocal errors, count
            rng = random.Random(index)
            while time.perf_counter() < deadline:
                url = path + rng.choice(ids) if ids is not None else path
                t0 = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                count += 1
                errors += not ok

        await closed_loop(concurrency, worker)
        elapsed = time.perf_counter() - start
    return summarize(count, elapsed, latencies, errors)


async def http_load(
    base_url: str,
    path: str,
    ids: Sequence[str] | None,
    seconds: float,
    concurrency: int,
    threads: int,
) -> Result:
    """GET `path` (or `path` + a random id) for `seconds` with `concurrency` connections."""
    if wrk_path() is not None:
        return await asyncio.to_thread(run_wrk, base_url, path, ids, seconds, concurrency, threads)
    return await run_httpx(base_url, path, ids, seconds, concurrency)


# -- the raw baseline ------------------------------------------------------------------------


async def raw_load(
    pool: Any,
    sql: str,
    args_for: Callable[[random.Random], Sequence[Any]],
    expect_rows: int,
    seconds: float,
    concurrency: int,
) -> Result:
    """A bare asyncpg loop: each task holds one pooled connection and runs `sql` until the end."""
    latencies: list[float] = []
    errors = 0
    count = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        nonlocal errors, count
        rng = random.Random(index)
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                rows = await conn.fetch(sql, *args_for(rng))
                latencies.append(time.perf_counter() - t0)
                count += 1
                errors += len(rows) != expect_rows

    await closed_loop(concurrency, worker)
    return summarize(count, time.perf_counter() - start, latencies, errors)
