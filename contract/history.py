"""Find in git the snapshot clients were built on: what `make contract` checks breaks against.

1. On a branch off `main` (or `origin/main`): the snapshot at the merge base, so the branch's
   commits and uncommitted edits are checked as a whole.
2. Else, when the working tree's snapshot differs from HEAD's (a change being prepared): HEAD's.
3. Else (CI on a clone of main): the version just before the last commit that changed it,
   following first parents, so that a merge is compared with main before the merge.

None when there is no such version: the snapshot's first commit, a shallow clone, no git.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "contract" / "openapi.json"
RELATIVE = "contract/openapi.json"
MAINLINES = ("main", "origin/main")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as any developer runs it
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def _merge_base() -> tuple[str, str] | None:
    head = (_git("rev-parse", "HEAD") or "").strip()
    for mainline in MAINLINES:
        base = (_git("merge-base", "HEAD", mainline) or "").strip()
        if base and base != head:
            text = _git("show", f"{base}:{RELATIVE}")
            if text is not None:
                return f"{mainline} at {base[:12]} (the merge base)", text
    return None


def previous_snapshot() -> tuple[str, str] | None:
    """(a label saying which version, its text), or None."""
    at_head = _git("show", f"HEAD:{RELATIVE}")
    if at_head is None:
        return None
    on_branch = _merge_base()
    if on_branch is not None:
        return on_branch
    if at_head != SNAPSHOT.read_text(encoding="utf-8"):
        return "HEAD (the snapshot has uncommitted changes)", at_head
    last = (_git("log", "--first-parent", "-1", "--format=%H", "--", RELATIVE) or "").strip()
    if not last:
        return None
    before = _git("show", f"{last}^:{RELATIVE}")
    if before is None:
        return None
    return f"{last[:12]}^ (before {last[:12]}, the last commit that changed it)", before
