"""The `relance` command on a scratch database: what it prints, and who the history says wrote."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.database import plain
from tests.processes import ROOT, free_port, relance


async def test_cli_writes_are_signed_in_the_history(own_database: str) -> None:
    demo = await asyncio.to_thread(relance, own_database, "demo")
    assert "synthetic actions" in demo.stdout
    again = await asyncio.to_thread(relance, own_database, "seed")
    assert "nothing changed" in again.stdout
    conn = await asyncpg.connect(plain(own_database))
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT actor_name, actor_role FROM changes WHERE resource = 'actions'"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("relance demo", "system")]


async def test_keys_create_prints_the_key_alone_on_the_last_line(
    own_database: str,
) -> None:
    created = await asyncio.to_thread(
        relance, own_database, "keys", "create", "--role", "partner", "--partner", "BDT",
        "--name", "BDT nightly",
    )  # fmt: skip
    last = created.stdout.strip().splitlines()[-1]
    assert last.startswith("rk_")
    assert " " not in last
    conn = await asyncpg.connect(plain(own_database))
    try:
        stored = await conn.fetchval("SELECT count(*) FROM api_keys WHERE secret_hash = $1", last)
        named = await conn.fetchval("SELECT role FROM api_keys WHERE name = 'BDT nightly'")
    finally:
        await conn.close()
    assert stored == 0  # only its digest is kept
    assert named == "partner"


def run_without_database(
    tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`relance ARGS` with no DATABASE_URL, the embedded server's folder under `tmp_path`."""
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=clean | {"EMBEDDED__DATA_DIR": str(tmp_path / "pgdata")} | env,
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["migrate"],
        ["keys", "create", "--role", "admin", "--name", "x"],
    ],
)
def test_production_without_database_url_refuses_before_starting_anything(
    tmp_path: Path, command: list[str]
) -> None:
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    result = run_without_database(tmp_path, *command, RELANCE_ENV="production")
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr
    assert "DATABASE_URL is unset" in result.stderr
    assert "Traceback" not in result.stderr
    assert "key" not in result.stdout.lower()  # no admin key printed
    assert not (tmp_path / "pgdata").exists()  # no embedded server made, none started


def test_invalid_settings_are_one_line_on_stderr(tmp_path: Path) -> None:
    result = run_without_database(tmp_path, "migrate", CORS_ORIGINS="null")
    assert result.returncode != 0
    assert "relance: invalid settings" in result.stderr
    assert "cors_origins" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "pgdata").exists()


async def test_commands_are_not_bound_by_the_request_round_trip_timeout(
    own_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DB__COMMAND_TIMEOUT_SECONDS keeps a request from hanging on a database that stopped
    answering; `relance demo` (and seed) run statements far longer than one request's."""
    monkeypatch.setenv("DB__COMMAND_TIMEOUT_SECONDS", "0.001")
    demo = await asyncio.to_thread(relance, own_database, "demo")
    assert "synthetic actions" in demo.stdout
