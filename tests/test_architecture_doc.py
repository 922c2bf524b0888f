"""docs/architecture.md keeps up with the code: every app package and every SQL file of
app/models/sql is named in it, and it points only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_app_package_has_its_line() -> None:
    packages = sorted(p.parent.name for p in (ROOT / "app").glob("*/__init__.py"))
    assert packages
    missing = [name for name in packages if f"`app/{name}`" not in DOC]
    assert not missing, f"docs/architecture.md does not say what these hold: {missing}"


def test_every_sql_file_is_described() -> None:
    files = sorted(p.name for p in (ROOT / "app" / "models" / "sql").glob("*.sql"))
    assert files
    missing = [name for name in files if f"app/models/sql/{name}" not in DOC]
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_the_files_it_names_exist() -> None:
    named = set(
        re.findall(r"`((?:app|migrations|tests|contract|bench|deploy|devtools)/[^`*]+)`", DOC)
    )
    assert named
    gone = sorted(p for p in named if not (ROOT / p.split(" ")[0].rstrip(",")).exists())
    assert not gone, f"docs/architecture.md names files that do not exist: {gone}"
