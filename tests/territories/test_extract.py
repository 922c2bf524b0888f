"""The extraction (make territories-data) on a small package of the same shape as the real one."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from app.territories.service import FILE_COLUMNS, default_data_dir
from scripts.extract_territories import COLUMNS, ExtractionError, build_rows, extract, npm_integrity

COMMUNES: list[dict[str, Any]] = [
    {"code": "13055", "nom": "Marseille", "type": "commune-actuelle", "siren": "211300553",
     "population": 100, "departement": "13", "region": "93"},
    {"code": "13001", "nom": "Aix-en-Provence", "type": "commune-actuelle",
     "siren": "211300017", "population": 50, "departement": "13", "region": "93"},
    {"code": "13201", "nom": "Marseille 1er Arrondissement", "type": "arrondissement-municipal",
     "commune": "13055", "population": 10, "departement": "13", "region": "93"},
    {"code": "13001", "nom": "Ancienne-Aix", "type": "commune-deleguee", "chefLieu": "13001",
     "departement": "13", "region": "93"},
    {"code": "84001", "nom": "Hors-EPCI", "type": "commune-actuelle", "population": 7,
     "departement": "84", "region": "93"},
]  # fmt: skip
EPCIS = [
    {"code": "200054807", "nom": "Métropole", "type": "METRO", "populationMunicipale": 1,
     "membres": [{"code": "13055"}, {"code": "13001"}]},
]  # fmt: skip
DEPARTEMENTS = [
    {"code": "13", "nom": "Bouches-du-Rhône", "region": "93"},
    {"code": "84", "nom": "Vaucluse", "region": "93"},
]
REGIONS = [{"code": "93", "nom": "Provence-Alpes-Côte d'Azur"}]


def _by_key(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["kind"], row["code"]): row for row in rows}


def test_rows_carry_kinds_parents_and_summed_populations() -> None:
    rows = _by_key(build_rows(COMMUNES, EPCIS, DEPARTEMENTS, REGIONS))
    assert rows["commune", "13055"]["epci_code"] == "200054807"
    assert rows["commune", "84001"]["epci_code"] == ""
    arrondissement = rows["arrondissement_municipal", "13201"]
    assert (arrondissement["commune_code"], arrondissement["epci_code"]) == ("13055", "200054807")
    delegated = rows["commune_deleguee", "13001"]
    assert (delegated["name"], delegated["commune_code"]) == ("Ancienne-Aix", "13001")
    assert rows["commune", "13001"]["name"] == "Aix-en-Provence"  # same code, another kind
    epci = rows["epci", "200054807"]
    assert (epci["siren"], epci["epci_type"], epci["population"]) == ("200054807", "METRO", "150")
    assert rows["departement", "13"]["population"] == "150"  # arrondissements not counted twice
    assert rows["region", "93"]["population"] == "157"


def test_inconsistent_package_is_refused() -> None:
    orphan = [*COMMUNES, {**COMMUNES[2], "code": "13202", "commune": "13999"}]
    with pytest.raises(ExtractionError, match="13999"):
        build_rows(orphan, EPCIS, DEPARTEMENTS, REGIONS)
    twice = [*EPCIS, {**EPCIS[0], "code": "200000001"}]
    with pytest.raises(ExtractionError, match="two EPCI"):
        build_rows(COMMUNES, twice, DEPARTEMENTS, REGIONS)


def _package(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "package"
    (package / "data").mkdir(parents=True)
    files = {"communes": COMMUNES, "epci": EPCIS, "departements": DEPARTEMENTS, "regions": REGIONS}
    for name, records in files.items():
        (package / "data" / f"{name}.json").write_text(json.dumps(records), encoding="utf-8")
    (package / "package.json").write_text(
        json.dumps(
            {"name": "@etalab/decoupage-administratif", "version": "0.0.1", "license": "MIT"}
        )
    )
    (package / "LICENSE").write_text("MIT licence text")
    tarball = tmp_path / "package.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(package, arcname="package")
    return package, tarball


def test_extract_writes_a_reproducible_file_and_its_manifest(tmp_path: Path) -> None:
    package, tarball = _package(tmp_path)
    integrity = npm_integrity(tarball.read_bytes())
    first = extract(package, tarball, integrity, tmp_path / "a", "2026")
    second = extract(package, tarball, integrity, tmp_path / "b", "2026")
    data = (tmp_path / "a" / "territories.csv.gz").read_bytes()
    assert data == (tmp_path / "b" / "territories.csv.gz").read_bytes()
    assert first == second
    assert first["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert first["tarball"] == {
        "integrity": integrity,
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
    }
    assert first["counts"] == {
        "arrondissement_municipal": 1,
        "commune": 3,
        "commune_deleguee": 1,
        "departement": 2,
        "epci": 1,
        "region": 1,
    }
    header = gzip.decompress(data).decode().splitlines()[0]
    assert header.split(",") == list(FILE_COLUMNS)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == first


def test_extract_refuses_a_tarball_with_another_integrity(tmp_path: Path) -> None:
    package, tarball = _package(tmp_path)
    wrong = npm_integrity(b"another tarball")
    with pytest.raises(ExtractionError, match="integrity"):
        extract(package, tarball, wrong, tmp_path / "out", "2026")
    assert not (tmp_path / "out").exists()


def test_the_loader_reads_the_columns_the_extractor_writes() -> None:
    assert COLUMNS == FILE_COLUMNS
    manifest = json.loads((default_data_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["columns"] == list(FILE_COLUMNS)
    shipped = (default_data_dir() / manifest["file"]).read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == manifest["file_sha256"]
    assert len(shipped) < 2_000_000  # committed to the repository: keep it small
    assert io.BytesIO(shipped).read(2) == b"\x1f\x8b"  # gzip
