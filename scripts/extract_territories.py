"""Extract the territorial referential from an installed `@etalab/decoupage-administratif`.

Run by `make territories-data` (mk/territories.mk), which fetches the pinned package with npm
into a temporary folder; Node.js is never needed at run time. Writes, deterministically
(same package, same bytes):

- `territories.csv.gz`: one row per territory (communes, municipal arrondissements, delegated
  and associated communes, EPCI, départements, régions), sorted by kind then code;
- `manifest.json`: the package, its version and tarball hashes, the file's SHA-256, the
  vintage, the licences and the row counts, which `load_territories` checks before loading;
- `LICENSE-decoupage-administratif`: the package's own licence text.
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "@etalab/decoupage-administratif"
FILE_NAME = "territories.csv.gz"
MANIFEST_NAME = "manifest.json"
LICENSE_NAME = "LICENSE-decoupage-administratif"

# The columns of territories.csv.gz, in order; app/territories/service.py reads the same names.
COLUMNS = (
    "kind",
    "code",
    "name",
    "siren",
    "population",
    "epci_type",
    "commune_code",
    "epci_code",
    "departement_code",
    "region_code",
)
KIND_ORDER = (
    "region",
    "departement",
    "epci",
    "commune",
    "arrondissement_municipal",
    "commune_deleguee",
    "commune_associee",
)
COMMUNE_KINDS = {
    "commune-actuelle": "commune",
    "arrondissement-municipal": "arrondissement_municipal",
    "commune-deleguee": "commune_deleguee",
    "commune-associee": "commune_associee",
}
POPULATION_NOTE = (
    "Communes and municipal arrondissements: the package's `population` (INSEE populations "
    "légales, population municipale; Marseille 13055: 886,040). EPCI, départements and régions: "
    "the sum of their current communes' figures, so that a territory's per-inhabitant measure "
    "agrees with its communes'. The package's own EPCI figures come from the DGCL's file and "
    "an older population vintage (Métropole d'Aix-Marseille-Provence: 1,922,626 there, "
    "1,939,077 as the sum of its communes here); they are not used. Delegated and associated "
    "communes have no population in the package."
)


class ExtractionError(Exception):
    pass


def npm_integrity(data: bytes) -> str:
    """npm's `integrity` of a tarball: sha512, base64 (Subresource Integrity format)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _load(package_dir: Path, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        (package_dir / "data" / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


def _row(**values: Any) -> dict[str, str]:
    return {c: "" if values.get(c) is None else str(values[c]) for c in COLUMNS}


def build_rows(
    communes: list[dict[str, Any]],
    epcis: list[dict[str, Any]],
    departements: list[dict[str, Any]],
    regions: list[dict[str, Any]],
) -> list[dict[str, str]]:
    """The package's records as rows of territories.csv.gz, checked for consistency."""
    current = {c["code"]: c for c in communes if c["type"] == "commune-actuelle"}
    epci_of: dict[str, str] = {}
    for epci in epcis:
        for member in epci["membres"]:
            if member["code"] not in current:
                raise ExtractionError(f"EPCI {epci['code']}: member {member['code']} unknown")
            if member["code"] in epci_of:
                raise ExtractionError(f"commune {member['code']} is in two EPCI")
            epci_of[member["code"]] = epci["code"]

    rows = []
    population_in: Counter[tuple[str, str]] = Counter()
    for c in communes:
        kind = COMMUNE_KINDS.get(c["type"])
        if kind is None:
            raise ExtractionError(f"commune {c['code']}: unknown type {c['type']!r}")
        parent = None if kind == "commune" else c.get("commune") or c.get("chefLieu")
        if parent is not None and parent not in current:
            raise ExtractionError(f"{kind} {c['code']}: parent commune {parent} unknown")
        # Arrondissements, delegated and associated communes lie inside their commune's EPCI.
        epci_code = epci_of.get(c["code"] if parent is None else parent)
        population = c.get("population")
        if kind == "commune" and population is not None:
            for level, code in (
                ("epci", epci_code),
                ("departement", c["departement"]),
                ("region", c["region"]),
            ):
                if code is not None:
                    population_in[(level, code)] += population
        rows.append(
            _row(
                kind=kind,
                code=c["code"],
                name=c["nom"],
                siren=c.get("siren"),
                population=population,
                commune_code=parent,
                epci_code=epci_code,
                departement_code=c["departement"],
                region_code=c["region"],
            )
        )
    for e in epcis:
        rows.append(
            _row(
                kind="epci",
                code=e["code"],
                name=e["nom"],
                siren=e["code"],  # an EPCI's code is its SIREN
                population=population_in.get(("epci", e["code"])),
                epci_type=e["type"],
            )
        )
    region_codes = {r["code"] for r in regions}
    for d in departements:
        if d["region"] not in region_codes:
            raise ExtractionError(f"département {d['code']}: région {d['region']} unknown")
        rows.append(
            _row(
                kind="departement",
                code=d["code"],
                name=d["nom"],
                population=population_in.get(("departement", d["code"])),
                region_code=d["region"],
            )
        )
    for r in regions:
        population = population_in.get(("region", r["code"]))
        rows.append(_row(kind="region", code=r["code"], name=r["nom"], population=population))
    known = {"departement_code": {d["code"] for d in departements}, "region_code": region_codes}
    for row in rows:
        for column, codes in known.items():
            if row[column] and row[column] not in codes:
                raise ExtractionError(f"{row['kind']} {row['code']}: {column} {row[column]}?")
    keys = Counter((row["kind"], row["code"]) for row in rows)
    duplicated = [key for key, n in keys.items() if n > 1]
    if duplicated:
        raise ExtractionError(f"duplicated territories: {duplicated[:5]}")
    rows.sort(key=lambda row: (KIND_ORDER.index(row["kind"]), row["code"]))
    return rows


def csv_gz(rows: Iterable[Mapping[str, str]]) -> bytes:
    """The rows as gzip'd CSV; no timestamp nor file name in the gzip header (reproducible)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    return out.getvalue()


def extract(
    package_dir: Path, tarball: Path, integrity: str, out_dir: Path, vintage: str
) -> dict[str, Any]:
    blob = tarball.read_bytes()
    if npm_integrity(blob) != integrity:
        raise ExtractionError(f"{tarball.name}: integrity {npm_integrity(blob)} != {integrity}")
    package = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    rows = build_rows(
        _load(package_dir, "communes"),
        _load(package_dir, "epci"),
        _load(package_dir, "departements"),
        _load(package_dir, "regions"),
    )
    data = csv_gz(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / FILE_NAME).write_bytes(data)
    shutil.copyfile(package_dir / "LICENSE", out_dir / LICENSE_NAME)
    manifest = {
        "package": package["name"],
        "version": package["version"],
        "vintage": vintage,
        "tarball": {"integrity": integrity, "sha256": hashlib.sha256(blob).hexdigest()},
        "file": FILE_NAME,
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "columns": list(COLUMNS),
        "counts": dict(sorted(Counter(row["kind"] for row in rows).items())),
        "licence": {
            "package": f"{package['license']} (code), see {LICENSE_NAME}",
            "data": "Licence Ouverte / Open Licence 2.0 (Etalab)",
            "attribution": "INSEE, Code officiel géographique; DGCL, composition des EPCI "
            "à fiscalité propre; INSEE, populations légales; via Etalab's "
            f"{package['name']} {package['version']}",
        },
        "population": POPULATION_NOTE,
        "regenerate": "make territories-data",
    }
    (out_dir / MANIFEST_NAME).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--package-dir", type=Path, required=True)
    parser.add_argument("--tarball", type=Path, required=True)
    parser.add_argument("--integrity", required=True, help="the pinned npm integrity (sha512-…)")
    parser.add_argument("--vintage", required=True, help="the data's year, e.g. 2026")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        manifest = extract(args.package_dir, args.tarball, args.integrity, args.out, args.vintage)
    except ExtractionError as exc:
        print(f"extraction refused: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{kind} {n:,}" for kind, n in manifest["counts"].items())
    print(f"{manifest['package']} {manifest['version']} (vintage {manifest['vintage']}): {counts}")
    print(f"{args.out / FILE_NAME}: sha256 {manifest['file_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
