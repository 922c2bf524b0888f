"""`relance import`: a CSV of actions and commitments, through the batch rules, all or nothing.

Run as a user runs it (a subprocess, `python -m app import`) against a seeded database of its
own; the real data is 400 projects of the State's 2019 investment grants (tests/fixtures/anct).
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from devtools.scratch import plain
from tests.processes import ROOT, relance

ANCT = ROOT / "tests/fixtures/anct/anct_projets_dotations_investissement_2019_head400.csv"
HEADER = (
    "action_code;action_external_id;chantier;title;status;communes;lead_partner;"
    "partner;external_ref;year;amount;instrument;commitment_status;label\n"
)


@pytest.fixture
async def database(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(plain(own_database))
    await conn.execute(
        "INSERT INTO partners (code, name, kind, version) VALUES ('ETAT_DGCL', 'État', 'state', 1)"
    )
    yield conn
    await conn.close()


def _import(url: str, path: Path, *args: str) -> tuple[int, str, str]:
    done = relance(url, "import", str(path), *args, check=False)
    return done.returncode, done.stdout, done.stderr


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM actions), (SELECT count(*) FROM commitments),"
        " (SELECT count(*) FROM changes)"
    )
    assert row is not None
    return row[0], row[1], row[2]


def _anct_file(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    """Each State project an action of chantier 5, its grant a committed commitment of 2020."""
    with ANCT.open(encoding="utf-8") as source:
        projects = list(csv.DictReader(source, delimiter=";"))
    path = tmp_path / "anct.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER.strip().split(";"))
        for p in projects:
            writer.writerow(
                [
                    p["id_projet"],
                    p["id_projet"],
                    "5",
                    p["description"].strip(),
                    "in_progress",
                    "",
                    "",
                    "ETAT_DGCL",
                    p["id_projet"],
                    "2020",
                    p["montant_sub"],
                    "grant",
                    "committed",
                    p["dotation"],
                ]
            )
    return path, projects


async def test_the_state_grants_sample_imports_whole_and_again_unchanged(
    own_database: str, database: asyncpg.Connection, tmp_path: Path
) -> None:
    path, projects = _anct_file(tmp_path)
    before = await _counts(database)
    code, out, err = await asyncio.to_thread(_import, own_database, path)
    assert code == 0, err
    n = len(projects)
    assert f"{n} lines: actions {n} created, 0 updated, 0 unchanged; commitments {n} created" in out
    # What the file says is what is stored, to the cent.
    stored = await database.fetch(
        "SELECT a.code, a.title, c.amount::text AS amount, c.label FROM actions a"
        " JOIN commitments c ON c.action_id = a.id WHERE c.external_ref = a.code"
    )
    by_code = {row["code"]: row for row in stored}
    for p in projects:
        row = by_code[p["id_projet"]]
        assert row["title"] == p["description"].strip()
        assert float(row["amount"]) == float(p["montant_sub"])
        assert row["label"] == p["dotation"]
    after = await _counts(database)
    assert after[:2] == (before[0] + n, before[1] + n)
    again = await asyncio.to_thread(_import, own_database, path)
    assert again[0] == 0, again[2]
    assert f"actions 0 created, 0 updated, {n} unchanged" in again[1]
    assert await _counts(database) == after  # no new version, no change-feed entry


async def test_a_bad_file_names_every_bad_cell_by_line_and_stores_nothing(
    own_database: str, database: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "OK-1;;5;Bonne action;planned;13055;AMP;BDT;R-1;2024;1000.00;loan;committed;x\n"
        + "OK-1;;5;;;;;AMP;R-2;2025;50.00;grant;planned;second line of OK-1\n"
        + "NO-CHANTIER;;999;Chantier inconnu;planned;;;;;;;;;\n"
        + "BAD-COMMUNE;;5;Commune inconnue;planned;13999;;;;;;;;\n"
        + "BAD-YEAR;;5;Année hors période;planned;;;BDT;R-3;1990;10.00;grant;planned;x\n",
        encoding="utf-8",
    )
    before = await _counts(database)
    code, _out, err = await asyncio.to_thread(_import, own_database, path)
    assert code != 0
    assert f"{path}: line 4, chantier: no chantier '999'" in err
    assert "nothing was stored" in err
    assert await _counts(database) == before
    # The chantier fixed: the other rules speak, each by its line and column.
    path.write_text(path.read_text(encoding="utf-8").replace(";999;", ";5;"), encoding="utf-8")
    code, _out, err = await asyncio.to_thread(_import, own_database, path)
    assert code != 0
    assert f"{path}: line 5, communes: is no current commune's INSEE code" in err
    assert await _counts(database) == before
    path.write_text(path.read_text(encoding="utf-8").replace("13999", "13001"), encoding="utf-8")
    code, _out, err = await asyncio.to_thread(_import, own_database, path)
    assert code != 0
    assert f"{path}: line 6, year: " in err
    assert await _counts(database) == before


async def test_an_unknown_column_is_refused_before_anything_runs(
    own_database: str, database: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "columns.csv"
    path.write_text("action_code,chantier,title,montant\nX,5,Titre,12\n", encoding="utf-8")
    code, _out, err = await asyncio.to_thread(_import, own_database, path)
    assert code != 0
    assert "line 1: unknown column 'montant'" in err
