"""Loading the referential: the shipped counts, idempotence, and a newer vintage's retirements."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.territories.service import (
    FILE_COLUMNS,
    TerritoryDataError,
    default_data_dir,
    load_territories,
    search_name,
)
from scripts.extract_territories import csv_gz

Session = async_sessionmaker[AsyncSession]

CHECKSUM = "SELECT md5(string_agg(t::text, '|' ORDER BY kind, code)) FROM territories t"


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        (default_data_dir() / "manifest.json").read_text(encoding="utf-8")
    )
    return manifest


async def _scalar(connection: AsyncConnection, sql: str) -> Any:
    return (await connection.execute(text(sql))).scalar_one()


async def test_seed_loads_the_shipped_counts(connection: AsyncConnection) -> None:
    rows = await connection.execute(
        text("SELECT kind, count(*) FROM territories WHERE current GROUP BY kind")
    )
    counts = {kind: n for kind, n in rows}
    assert counts == _manifest()["counts"]
    # The figures for @etalab/decoupage-administratif 6.0.0.
    assert counts["commune"] == 34_969
    assert counts["epci"] == 1_255
    assert (counts["departement"], counts["region"]) == (109, 26)
    assert counts["arrondissement_municipal"] == 20 + 9 + 16
    source = (
        await connection.execute(text("SELECT package, version, vintage FROM territory_sources"))
    ).one()
    assert tuple(source) == ("@etalab/decoupage-administratif", "6.0.0", "2026")


async def test_loading_again_is_skipped_and_forcing_it_changes_nothing(
    sessionmaker: Session, connection: AsyncConnection
) -> None:
    before = await _scalar(connection, CHECKSUM)
    async with sessionmaker() as session:
        skipped = await load_territories(session)
        forced = await load_territories(session, force=True)
        await session.commit()
    assert skipped.skipped
    assert not skipped.changed
    assert not forced.skipped
    assert (forced.inserted, forced.updated, forced.retired) == (0, 0, 0)
    assert forced.changed == []
    assert await _scalar(connection, CHECKSUM) == before


def _newer_vintage(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    """A data folder like the shipped one, vintage 2027, holding only `rows`."""
    data = csv_gz([{c: row.get(c, "") for c in FILE_COLUMNS} for row in rows])
    (tmp_path / "territories.csv.gz").write_bytes(data)
    manifest = _manifest() | {
        "version": "7.0.0-test",
        "vintage": "2027",
        "file_sha256": hashlib.sha256(data).hexdigest(),
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


async def test_a_newer_vintage_retires_what_it_no_longer_lists_without_deleting_it(
    sessionmaker: Session, connection: AsyncConnection, tmp_path: Path
) -> None:
    total = await _scalar(connection, "SELECT count(*) FROM territories")
    newer = _newer_vintage(
        tmp_path,
        [
            {"kind": "region", "code": "93", "name": "Provence-Alpes-Côte d'Azur"},
            {"kind": "departement", "code": "13", "name": "Bouches-du-Rhône", "region_code": "93"},
            {
                "kind": "commune",
                "code": "13055",
                "name": "Marseille",
                "siren": "211300553",
                "population": "890000",
                "departement_code": "13",
                "region_code": "93",
            },
            {
                "kind": "commune",
                "code": "13300",
                "name": "Nouvelle-Commune",
                "departement_code": "13",
                "region_code": "93",
            },
        ],
    )
    async with sessionmaker() as session:
        load = await load_territories(session, newer)
        await session.commit()
    assert (load.inserted, load.updated, load.retired) == (1, 3, total - 3)
    rows = await connection.execute(
        text(
            "SELECT code, current, vintage, population FROM territories"
            " WHERE kind = 'commune' AND code IN ('13001', '13055', '13300') ORDER BY code"
        )
    )
    assert [tuple(row) for row in rows] == [
        ("13001", False, "2026", 149_695),  # Aix: gone from 2027, kept as it was, retired
        ("13055", True, "2027", 890_000),
        ("13300", True, "2027", None),
    ]
    assert await _scalar(connection, "SELECT count(*) FROM territories") == total + 1

    # Back to the shipped file: what it lists is current again, the 2027-only commune retired.
    async with sessionmaker() as session:
        back = await load_territories(session)
        await session.commit()
    assert (back.inserted, back.retired) == (0, 1)
    current = await connection.execute(
        text("SELECT code FROM territories WHERE kind = 'commune' AND NOT current")
    )
    assert current.scalars().all() == ["13300"]


async def test_a_file_that_differs_from_its_manifest_is_refused(
    sessionmaker: Session, connection: AsyncConnection, tmp_path: Path
) -> None:
    before = await _scalar(connection, CHECKSUM)
    shutil.copy(default_data_dir() / "manifest.json", tmp_path / "manifest.json")
    (tmp_path / "territories.csv.gz").write_bytes(csv_gz([]))
    async with sessionmaker() as session:
        with pytest.raises(TerritoryDataError, match="SHA-256"):
            await load_territories(session, tmp_path, force=True)
    assert await _scalar(connection, CHECKSUM) == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Aix-en-Provence", "aix en provence"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("Œuilly", "oeuilly"),
        ("Provence-Alpes-Côte d'Azur", "provence alpes cote d azur"),
        ("  Saint--Étienne ", "saint etienne"),
    ],
)
def test_search_name_drops_accents_case_and_punctuation(name: str, expected: str) -> None:
    assert search_name(name) == expected
