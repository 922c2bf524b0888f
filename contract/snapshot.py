"""Build, write and check the committed OpenAPI snapshot (`contract/openapi.json`).

    python -m contract.snapshot            # print the document the code serves
    python -m contract.snapshot --write    # rewrite the snapshot (`make contract-update`)
    python -m contract.snapshot --check    # exit 1 with a diff when the snapshot is stale

No database is needed: the document depends only on the code.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from app.config import Settings
from app.main import create_app

SNAPSHOT = Path(__file__).resolve().parent / "openapi.json"
UPDATE_HINT = "run `make contract-update` and commit contract/openapi.json"
MAX_DIFF_LINES = 200


def build_document() -> dict[str, Any]:
    # The engine is only built in the lifespan, which never runs here: the URL is never used.
    settings = Settings(database_url="postgresql://unused@localhost/unused")  # type: ignore[arg-type]
    return create_app(settings).openapi()


def render(document: dict[str, Any]) -> str:
    """The canonical text: sorted keys, so that a diff shows only what changed."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def diff(committed: str, served: str) -> str:
    """A unified diff, cut at MAX_DIFF_LINES; empty when the texts are equal."""
    lines = list(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            served.splitlines(keepends=True),
            fromfile="contract/openapi.json (committed)",
            tofile="served /openapi.json",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite contract/openapi.json")
    mode.add_argument("--check", action="store_true", help="fail when it is out of date")
    args = parser.parse_args(argv)

    served = render(build_document())
    if args.write:
        SNAPSHOT.write_text(served, encoding="utf-8")
        print("wrote contract/openapi.json")
        return 0
    if args.check:
        committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
        changes = diff(committed, served)
        if changes:
            sys.stdout.write(changes)
            print(f"\nThe OpenAPI snapshot is out of date: {UPDATE_HINT}.")
            return 1
        print("OpenAPI snapshot: contract/openapi.json matches the served document")
        return 0
    sys.stdout.write(served)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
