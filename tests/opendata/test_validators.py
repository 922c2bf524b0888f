"""The exports of the demo data against the validators that data portals run: validata-table
(schema.data.gouv.fr's, SCDL custom checks included) on the SCDL file.

Not part of plain pytest: the validators live in their own virtualenv (devtools/opendata,
installed by `make opendata-check`, which runs these tests and is part of CI)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.opendata import scdl
from app.programme.demo import demo
from tests.conftest import Session

pytestmark = pytest.mark.opendata

TOOLS = Path(os.environ.get("OPENDATA_TOOLS", ".tools/opendata"))
VALIDATA = ["-c", "from validata_core.domain.cli import cli; cli()"]


def _run(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(TOOLS / "bin" / "python"), *args], capture_output=True, text=True, check=True
    )
    assert done.stdout, done.stderr  # the CLI logs a failure and prints nothing
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def test_scdl_export_of_the_demo_data_passes_validata_with_0_errors(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessionmaker: Session,
    settings: Settings,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as session:
        await demo(session, settings)
        await session.commit()
    response = await client.get(app.url_path_for("export_scdl_subventions"))
    assert response.status_code == 200
    exported = tmp_path / "subventions.csv"
    exported.write_bytes(response.content)
    rows = response.text.count("\n") - 1
    assert rows > 10, "the demo must give grants to publish"

    report = _run(*VALIDATA, "--schema", str(scdl.SCHEMA_PATH), str(exported))
    assert report["errors"] == [], report["errors"][:5]
    assert report["stats"]["errors"] == 0
    assert report["stats"]["rows"] == rows
    assert report["valid"] is True
    # The validator is awake: a SIRET with a wrong key in the same file is an error.
    broken = tmp_path / "broken.csv"
    broken.write_text(response.text.replace("20005480700017", "20005480700018", 1))
    assert _run(*VALIDATA, "--schema", str(scdl.SCHEMA_PATH), str(broken))["stats"]["errors"] >= 1
