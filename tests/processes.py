"""Running the real `relance` command from tests: one-shot commands, and servers on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port free right now; another process (a parallel test worker) may take it before the
    caller binds it. Servers started by tests use reserved_port() instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def reserved_port() -> Iterator[int]:
    """A localhost port that no other process gets until the block ends: start the server
    inside it.

    The port is held by a socket bound with SO_REUSEADDR that never listens. The kernel gives
    a held port to no other bind() to port 0 and refuses it to a plain bind(), but lets a
    server that binds it with SO_REUSEADDR, as uvicorn does, listen on it."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def relance(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `relance ARGS` against the database at `url`; raises if it fails (with `check`)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=os.environ | {"DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )


def serve(
    url: str, port: int, *args: str, log: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """Start `relance serve --port PORT ARGS` on `url`, its output in `log` (a file, never a
    pipe nobody reads, which would stall the server once full); the caller stops it."""
    clean = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with open(log or os.devnull, "wb") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), *args],
            env=clean | {"DATABASE_URL": url} | env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_ready(
    base: str, seconds: float = 120, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until `base`/readyz answers 200, or fail as soon as `process` (the server) exits.

    The deadline is for a server that never comes up, not a speed requirement: a loaded
    machine may take a while to start one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {base} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} did not become ready")
