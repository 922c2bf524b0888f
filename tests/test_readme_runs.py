"""The README's examples run as written: every `sh` block, top to bottom, in one bash shell in
a folder like the project's, against a live server holding the seed and `relance demo`, as a
reader who ran `make run` and `make demo` would. Every curl must get a 2xx or 3xx (a 4xx or 5xx
fails the run and names the README line), unless its block asks for the status itself
(`-w '%{http_code}'`), and then the status is compared with the comment on that line."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ROOT, relance, serve, wait_ready

README = (ROOT / "README.md").read_text(encoding="utf-8")
NOT_RUN = re.compile(r"<!-- README test: not run \((?P<why>[^)]+(?:\([^)]*\)[^)]*)*)\) -->\n$")


@dataclass
class Block:
    line: int  # of the opening fence
    text: str
    not_run: str | None  # why, when the README says it is not run


def blocks() -> list[Block]:
    found = []
    for match in re.finditer(r"^```sh\n(.*?)^```$", README, re.MULTILINE | re.DOTALL):
        before = README[: match.start()]
        why = NOT_RUN.search(before[-300:])
        found.append(Block(before.count("\n") + 1, match.group(1), why and why.group("why")))
    return found


def script(base: str) -> str:
    """The blocks to run, each announced on stderr with its README line, in one script. The
    README's address is the test server's, the only change made to what the README says."""
    parts = [
        "set -euo pipefail",
        # curl as the README writes it, but failing on an HTTP error with the body shown
        # (--fail-with-body), except where the example reads the status itself (-w).
        'curl() { case " $* " in *" -w "*) command curl "$@" ;; '
        '*) command curl --fail-with-body --show-error "$@" ;; esac; }',
    ]
    for block in blocks():
        if block.not_run is None:
            parts.append(f"echo '>>> README line {block.line}' >&2")
            parts.append(block.text.replace("http://127.0.0.1:8000", base))
    return "\n".join(parts) + "\n"


def test_the_blocks_not_run_say_why_and_are_few() -> None:
    skipped = [b for b in blocks() if b.not_run is not None]
    assert len(blocks()) >= 10
    assert len(skipped) <= 4, [b.line for b in skipped]
    for block in skipped:  # commands that start or build the service, never API examples
        assert "$API" not in block.text, f"README line {block.line} is an API example"


def test_no_placeholder_is_left_in_an_example() -> None:
    for block in blocks():
        if block.not_run is None:
            code = "\n".join(line.split(" #")[0] for line in block.text.splitlines())
            code = re.sub(r"^#.*$", "", code, flags=re.MULTILINE)  # comments may show "rk_…"
            assert not re.search(r"<[a-z ]+ id>|rk_…|…", code), f"README line {block.line}"


async def test_every_example_runs_against_a_live_server(
    own_database: str, server_port: int, tmp_path: Path
) -> None:
    await asyncio.to_thread(relance, own_database, "demo")
    base = f"http://127.0.0.1:{server_port}"
    server = serve(own_database, server_port, log=tmp_path / "server.log")
    work = tmp_path / "reader"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")  # the reader's checkout: its venv, no files
    try:
        await asyncio.to_thread(wait_ready, base, 120, server)
        ran = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", script(base)],
            cwd=work, capture_output=True, text=True, timeout=600,
            env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            | {"DATABASE_URL": own_database},
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)
    where = re.findall(r">>> README line (\d+)", ran.stderr)
    assert ran.returncode == 0, (
        f"the README block at line {where[-1] if where else '?'} failed:\n"
        f"{ran.stderr[-3000:]}\n--- stdout ---\n{ran.stdout[-2000:]}"
    )
    run = [b for b in blocks() if b.not_run is None]
    assert len(where) == len(run)  # every block ran to its end
    # The examples that print a status say which one they expect, and got it.
    for expected in re.findall(r"-w '%\{http_code\}\\n'.*?# (\d{3})", script(base), re.DOTALL):
        assert f"{expected}\n" in ran.stdout
