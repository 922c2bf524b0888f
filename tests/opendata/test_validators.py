"""The exports of the demo data against the validators that data portals run: validata-table
(schema.data.gouv.fr's, SCDL custom checks included) on the SCDL file, frictionless on the
Fiscal Data Package.

Not part of plain pytest: the validators live in their own virtualenv (devtools/opendata,
installed by `make opendata-check`, which runs these tests and is part of CI)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import zipfile
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

TOOLS = Path(os.environ.get("OPENDATA_TOOLS", ".tools/opendata")).resolve()
VALIDATA = ["-c", "from validata_core.domain.cli import cli; cli()"]


def _run(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(TOOLS / "bin" / "python"), *args], capture_output=True, text=True, check=True
    )
    assert done.stdout, done.stderr  # the CLI logs a failure and prints nothing
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _frictionless(directory: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(TOOLS / "bin" / "frictionless"), "validate", "--json", "datapackage.json"],
        capture_output=True,
        text=True,
        cwd=directory,
        check=False,  # exit 1 when invalid: the report says why
    )
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
    assert rows >= 5, "the demo must give grants to publish"

    report = await asyncio.to_thread(
        _run, *VALIDATA, "--schema", str(scdl.SCHEMA_PATH), str(exported)
    )
    assert report["errors"] == [], report["errors"][:5]
    assert report["stats"]["errors"] == 0
    assert report["stats"]["rows"] == rows
    assert report["valid"] is True
    # The validator is awake: a SIRET with a wrong key in the same file is an error.
    broken = tmp_path / "broken.csv"
    broken.write_text(response.text.replace("20005480700017", "20005480700018", 1))
    again = await asyncio.to_thread(_run, *VALIDATA, "--schema", str(scdl.SCHEMA_PATH), str(broken))
    assert again["stats"]["errors"] >= 1


async def test_fiscal_data_package_of_the_demo_data_passes_frictionless_with_0_errors(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: Session, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    async with sessionmaker() as session:
        await demo(session, settings)
        await session.commit()
    response = await client.get(app.url_path_for("export_fiscal_data_package"))
    assert response.status_code == 200
    (tmp_path / "package.zip").write_bytes(response.content)
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        archive.extractall(tmp_path / "package")
    lines = (tmp_path / "package" / "commitments.csv").read_text().count("\n") - 1
    assert lines > 100
    paid = (tmp_path / "package" / "payments.csv").read_text().count("\n") - 1
    assert paid > 100  # the demo's payments, each referring to a commitment of the package

    report = await asyncio.to_thread(_frictionless, tmp_path / "package")
    assert report["valid"] is True, json.dumps(report)[:2000]
    tasks = {task["name"]: task for task in report["tasks"]}
    assert sorted(tasks) == ["commitments", "payments"]
    assert all(task["stats"]["errors"] == 0 for task in tasks.values())
    assert tasks["commitments"]["stats"]["rows"] == lines
    assert tasks["payments"]["stats"]["rows"] == paid
    # The validator is awake: an amount that is no number is an error.
    data = tmp_path / "package" / "commitments.csv"
    header, first, *rest = data.read_text().splitlines()
    cells = first.split(",")
    cells[2] = "douze"
    data.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    broken = await asyncio.to_thread(_frictionless, tmp_path / "package")
    assert broken["valid"] is False
