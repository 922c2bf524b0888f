"""Run Alembic from code: `relance migrate`, the embedded server and the tests share this."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import app


def _project_root() -> Path:
    configured = os.environ.get("RELANCE_ALEMBIC_INI")
    if configured:
        return Path(configured).resolve().parent
    for candidate in (Path.cwd(), Path(app.__file__).resolve().parent.parent):
        if (candidate / "alembic.ini").exists():
            return candidate
    raise RuntimeError(
        "alembic.ini not found: run from the project folder or set RELANCE_ALEMBIC_INI"
    )


def alembic_config(url: str | None = None) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    # Run from the service, Alembic logs through the service's JSON logging; alembic.ini's
    # text logging is for the `alembic` command alone.
    config.attributes["configure_logging"] = False
    if url is not None:
        config.attributes["url"] = url
    return config


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@lru_cache
def known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def schema_is_behind(revision: str | None) -> bool:
    """Whether this code needs `relance migrate` before it can serve: no schema yet, or one of
    its own revisions short of its head. A revision it does not know comes from a newer release
    whose migrate step ran before its replicas rolled out: the schema is ahead, and this code
    keeps serving it meanwhile (migrations stay backward compatible, docs/operations.md)."""
    return revision is None or (revision != head_revision() and revision in known_revisions())


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Fail when the models and the migrations disagree (alembic check)."""
    command.check(alembic_config(url))
