"""New revisions, as `alembic revision` and `alembic merge` write them from the project's template:
Alembic's own ids, a lock timeout in upgrade and downgrade, linted and formatted as written."""

from __future__ import annotations

import ast
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from tests.database import admin_url, create_scratch_database, drop_database, plain

ROOT = Path(__file__).resolve().parent.parent
LOCK_TIMEOUT = "op.execute(\"SET LOCAL lock_timeout = '5s'\")"


@pytest.fixture
def scripts(tmp_path: Path) -> Config:
    """The project's alembic.ini over a copy of migrations/, so that new files land in tmp."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(copy))
    config.attributes["configure_logging"] = False
    return config


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_tmpl")
    yield url
    await drop_database(url)


def _revision(config: Config, message: str, **options: str | bool) -> Script:
    script = command.revision(config, message=message, **options)  # type: ignore[arg-type]
    assert isinstance(script, Script)
    return script


def _first_statement(path: Path, function: str) -> str:
    tree = ast.parse(path.read_text())
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    return ast.unparse(body.body[0])


def _lint(*paths: str) -> None:
    config = str(ROOT / "pyproject.toml")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--config", config, *paths],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_new_revision_has_alembics_id_a_lock_timeout_and_passes_lint(scripts: Config) -> None:
    head = ScriptDirectory.from_config(scripts).get_current_head()
    script = _revision(scripts, "add a column")
    assert re.fullmatch(r"[0-9a-f]{12}", script.revision)  # Alembic's, not a hand-made one
    assert script.down_revision == head
    path = Path(script.path)
    assert re.fullmatch(r"\d{8}-\d{4}_add_a_column\.py", path.name)
    assert _first_statement(path, "upgrade") == LOCK_TIMEOUT
    assert _first_statement(path, "downgrade") == LOCK_TIMEOUT
    _lint(script.path)


def _record_lock_timeout(path: Path) -> None:
    """Make the revision at `path` store the lock_timeout its upgrade runs under."""
    upgrade, downgrade = path.read_text().split("\ndef downgrade", 1)
    path.write_text(
        upgrade.rstrip() + '\n    op.execute("CREATE TABLE template_probe AS'
        " SELECT current_setting('lock_timeout') AS value\")\n\n\ndef downgrade"
        + downgrade.rstrip()
        + '\n    op.execute("DROP TABLE template_probe")\n'
    )


async def test_two_branches_meet_with_alembic_merge_and_run_under_the_lock_timeout(
    scripts: Config, scratch_url: str
) -> None:
    base = ScriptDirectory.from_config(scripts).get_current_head()
    assert base is not None
    left = _revision(scripts, "left")
    right = _revision(scripts, "right", head=base, splice=True)  # another branch, same parent
    assert set(ScriptDirectory.from_config(scripts).get_heads()) == {left.revision, right.revision}
    merge = command.merge(scripts, revisions="heads", message="merge left and right")
    assert isinstance(merge, Script)
    assert set(merge.down_revision or ()) == {left.revision, right.revision}
    assert ScriptDirectory.from_config(scripts).get_heads() == [merge.revision]
    assert _first_statement(Path(merge.path), "upgrade") == LOCK_TIMEOUT
    _lint(left.path, right.path, merge.path)

    _record_lock_timeout(Path(left.path))
    scripts.attributes["url"] = scratch_url
    await asyncio.to_thread(command.upgrade, scripts, "heads")
    conn = await asyncpg.connect(plain(scratch_url))
    try:
        assert await conn.fetchval("SELECT value FROM template_probe") == "5s"
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == merge.revision
        await asyncio.to_thread(command.downgrade, scripts, base)
        assert await conn.fetchval("SELECT to_regclass('template_probe')") is None
    finally:
        await conn.close()
