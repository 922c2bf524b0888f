"""SCDL import: the real published files (encodings, separators, decimal commas, odd dates),
row by row; the broken Vendée file refused; dry runs leave the database as it was; re-imports
change nothing; an export re-imported gives the same grants to the cent."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.main import attach_database, create_app
from app.opendata.scdl_reader import amount
from tests.conftest import Session, assert_problem, pointers
from tests.factories import make_action
from tests.opendata.helpers import publishable_grant, rows

FILES = Path(__file__).parents[1] / "fixtures" / "scdl"
ATTRIBUTANTS = {  # the files' idAttribuant, as partners of the programme
    "ANTIBES": "21060004500392",
    "ROQUES": "21310458100011",
    "SICOVAL": "24310063300011",
    "CD46": "22460001500511",
    "CD49": "22490001900015",
    "CD80": "22800001400016",
    "CD85": "22850001300658",
}
CHECKED_TABLES = ("commitments", "changes", "change_commits", "commitment_rollups", "partners")


@pytest.fixture
async def archive(
    settings: Settings, engine: AsyncEngine, sessionmaker: Session, connection: AsyncConnection
) -> FastAPI:
    """The app with a programme period reaching back to 2010 (the files are of 2011–2019), and
    the files' attributants as partners."""
    # The programme's period is its own (its years follow it, app/models/sql/programme_periods.sql).
    await connection.execute(
        text("UPDATE programmes SET start_year = 2010 WHERE code = :code"),
        {"code": settings.programme.first_code},
    )
    period = settings.programme.model_copy(update={"start_year": 2010})
    application = create_app(settings.model_copy(update={"programme": period}))
    attach_database(application, engine, sessionmaker)
    return application


@pytest.fixture
async def archive_client(archive: FastAPI) -> Any:
    transport = httpx.ASGITransport(app=archive)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def target(archive_client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    for code, siret in ATTRIBUTANTS.items():
        body = {"code": code, "name": code, "kind": "other", "siren": siret[:9], "siret": siret}
        response = await archive_client.post("/v1/partners", json=body, headers=admin)
        assert response.status_code == 201, response.text
    return str((await make_action(archive_client, admin))["id"])


async def _checksum(connection: AsyncConnection) -> dict[str, str]:
    sums = {}
    for table in CHECKED_TABLES:
        rows_as_text = "coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
        result = await connection.execute(text(f"SELECT md5({rows_as_text}) FROM {table} t"))
        sums[table] = str(result.scalar_one())
    return sums


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, action_id: str, **params: str
) -> httpx.Response:
    return await client.post(
        "/v1/imports/scdl",
        params={"action_id": action_id, **params},
        content=data,
        headers=headers | {"Content-Type": "text/csv"},
    )


def _file(name: str) -> bytes:
    return (FILES / name).read_bytes()


# file, rows, accepted, lines reported (line: columns), encoding, separator, sum accepted
EXPECTED = [
    ("scdl_subventions_exemple_valide_v2.1.1.csv", 29, 28,
     {27: {"datesPeriodeVersement"}}, "utf-8", ",", "2765393.50"),
    ("scdl_real_HauteGaronne_2018.csv", 69, 68,
     {35: {"nomBeneficiaire", "idBeneficiaire"}}, "utf-8", ";", "351558.85"),
    ("scdl_real_Lot_2017.csv", 13, 13, {}, "windows-1252", ";", "878205.00"),
    ("scdl_real_Somme_20180302.csv", 41, 41, {}, "windows-1252", ";", "3201952.64"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "n_rows", "accepted", "reported", "encoding", "separator", "total"),
    EXPECTED,
    ids=[e[0] for e in EXPECTED],
)
async def test_real_file_dry_run_reports_each_row_and_leaves_the_database(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str,
    connection: AsyncConnection, name: str, n_rows: int, accepted: int,
    reported: dict[int, set[str]], encoding: str, separator: str, total: str,
) -> None:  # fmt: skip
    before = await _checksum(connection)
    response = await _import(archive_client, admin, _file(name), target, partial="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (
        n_rows, accepted, n_rows - accepted,
    )  # fmt: skip
    assert (report["encoding"], report["separator"]) == (encoding, separator)
    assert (report["dry_run"], report["created"], report["updated"]) == (True, accepted, 0)
    found: dict[int, set[str]] = {}
    for issue in report["issues"]:
        found.setdefault(issue["line"], set()).add(issue["column"])
    assert found == reported
    assert await _checksum(connection) == before

    # Not partial: the same rows make a 422 naming them, or a clean report.
    strict = await _import(archive_client, admin, _file(name), target)
    if reported:
        problem = assert_problem(strict, 422, "VALIDATION_ERROR")
        assert {p.split("/")[2] for p in pointers(problem)} == {str(n) for n in reported}
    else:
        assert strict.status_code == 200
    assert await _checksum(connection) == before

    # What the import would store, to the cent.
    kept = await _import(archive_client, admin, _file(name), target, dry_run="false",
                         partial="true")  # fmt: skip
    assert kept.json()["created"] == accepted
    grants = (
        await archive_client.get("/v1/commitments", params={"action_id": target, "limit": 500})
    ).json()["items"]
    assert sum(Decimal(g["amount"]) for g in grants) == Decimal(total)
    assert {g["instrument"] for g in grants} == {"grant"}


async def test_maine_et_loire_spaced_sirets_read_and_bad_ones_reported(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str
) -> None:
    data = _file("scdl_real_MaineEtLoire_conventions.csv")
    report = (await _import(archive_client, admin, data, target, partial="true")).json()
    assert report["rows"] == 75
    assert report["accepted"] == 54
    issues = {(i["line"], i["column"]): i["reason"] for i in report["issues"]}
    # "7,86E+13": a SIRET a spreadsheet turned into a number
    assert "valid SIRET" in issues[(18, "idBeneficiaire")]
    assert "date" in issues[(16, "dateConvention")]  # left empty
    assert (5, "datesPeriodeVersement") in issues  # "2017-12-12/fin-action"
    # "224 900 019 000 15'" is the attributant's SIRET, read without spaces or quote
    assert not [k for k in issues if k[1] == "idAttribuant"]


async def test_vendee_file_is_refused_with_a_clear_report(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str,
    connection: AsyncConnection,
) -> None:  # fmt: skip
    before = await _checksum(connection)
    for params in ({}, {"partial": "true"}, {"partial": "true", "dry_run": "false"}):
        response = await _import(
            archive_client, admin, _file("scdl_real_Vendee_2018.csv"), target, **params
        )
        problem = assert_problem(response, 422, "VALIDATION_ERROR")
        assert "refused as a whole" in problem["detail"]
        assert problem["errors"][0] == {
            "pointer": "/lines/2",
            "detail": "has 15 fields where the header has 14",
        }
        assert len(problem["errors"]) + problem.get("more_errors", 0) == 114
    assert await _checksum(connection) == before


async def test_reimporting_the_same_file_changes_nothing(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str,
    connection: AsyncConnection,
) -> None:  # fmt: skip
    data = _file("scdl_real_Lot_2017.csv")
    first = await _import(archive_client, admin, data, target, dry_run="false")
    assert (first.json()["created"], first.json()["unchanged"]) == (13, 0)
    after_first = await _checksum(connection)
    again = await _import(archive_client, admin, data, target, dry_run="false")
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (
        0, 0, 13,
    )  # fmt: skip
    assert await _checksum(connection) == after_first
    # A new amount is an update of the same grant, not a new one.
    changed = data.replace(b"40 000,00", b"41 000,00", 1)
    third = await _import(archive_client, admin, changed, target, dry_run="false")
    assert (third.json()["created"], third.json()["updated"]) == (0, 1)


async def test_bad_requests_store_nothing(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str,
    editor: dict[str, str],
) -> None:  # fmt: skip
    data = _file("scdl_real_Lot_2017.csv")
    missing = await _import(archive_client, admin, data, "00000000-0000-0000-0000-000000000000")
    assert pointers(assert_problem(missing, 422)) == ["action_id"]
    as_json = await archive_client.post(
        "/v1/imports/scdl", params={"action_id": target}, json={"x": 1}, headers=admin
    )
    assert_problem(as_json, 415)
    too_big = await _import(archive_client, admin, b"x" * (5 * 1024 * 1024 + 1), target)
    assert_problem(too_big, 413)
    empty = await _import(archive_client, admin, b"", target)
    assert pointers(assert_problem(empty, 422)) == ["/lines/1"]
    no_key = await archive_client.post(
        "/v1/imports/scdl", params={"action_id": target}, content=data,
        headers={"Content-Type": "text/csv"},
    )  # fmt: skip
    assert_problem(no_key, 401)
    unknown_attributant = data.replace(b"22460001500511", b"21130055300016")
    report = await _import(archive_client, editor, unknown_attributant, target)
    problem = assert_problem(report, 422)
    assert len(pointers(problem)) == 13  # one per row; lines go further (quoted line breaks)
    assert all(p.endswith("/idAttribuant") for p in pointers(problem))


async def test_export_reimported_into_an_empty_programme_gives_the_same_grants(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Grants of the first programme, a formula-looking name and cents included.
    await publishable_grant(client, admin, amount="1234.56", decision_ref="RT-1")
    await publishable_grant(
        client, admin, amount="0.01", decision_ref="RT-2", beneficiary_siret=None,
        beneficiary_rna="W133012345", beneficiary_name="-Club des 13-", eu_notified=True,
    )  # fmt: skip
    await publishable_grant(client, admin, amount="98765432.10", decision_ref=None)
    programmes = (await client.get("/v1/programmes")).json()["items"]
    source = programmes[0]["id"]
    exported = await client.get(
        app.url_path_for("export_scdl_subventions"), params={"programme_id": source}
    )
    body = {
        "code": "RT-2020-2026", "name": "Round trip", "start_year": 2020, "end_year": 2026,
        "territory_code": "13055", "status": "draft",
    }  # fmt: skip
    created = await client.post("/v1/programmes", json=body, headers=admin)
    assert created.status_code == 201, created.text
    empty = created.json()["id"]
    chantier = await client.post(
        "/v1/chantiers",
        json={"programme_id": empty, "number": 42, "code": "RT", "name": "Round trip"},
        headers=admin,
    )
    assert chantier.status_code == 201, chantier.text
    action = await make_action(client, admin, chantier_id=chantier.json()["id"])

    imported = await client.post(
        "/v1/imports/scdl",
        params={"action_id": action["id"], "dry_run": "false"},
        content=exported.content,
        headers=admin | {"Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == len(rows(exported)) >= 3

    again = await client.get(
        app.url_path_for("export_scdl_subventions"), params={"programme_id": empty}
    )
    # The action differs (its chantier and end date): every other cell is the same.
    header = next(csv.reader(io.StringIO(exported.text)))
    same = [c for c in header if c not in ("dispositifAide", "datesPeriodeVersement")]

    def grants(response: httpx.Response) -> list[tuple[str, ...]]:
        return sorted(tuple(r[c] for c in same) for r in rows(response))

    assert grants(again) == grants(exported)
    total = sum(Decimal(r["montant"]) for r in rows(again))
    assert total == sum(Decimal(r["montant"]) for r in rows(exported))


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"idAttribuant,dateConvention,nomBeneficiaire,montant\n1,\x00,x,1\n", "NUL"),
        (b"idAttribuant,dateConvention,nomBeneficiaire,montant\n" + b"x" * 200_000, "CSV"),
    ],
    ids=["NUL", "huge field"],
)
async def test_a_file_that_is_not_csv_is_refused_not_a_500(
    archive_client: httpx.AsyncClient, admin: dict[str, str], target: str, data: bytes,
    detail: str,
) -> None:  # fmt: skip
    response = await _import(archive_client, admin, data, target)
    problem = assert_problem(response, 422)
    assert detail in problem["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("40 000,00", "40000.00"),  # the Lot's spaced thousands and decimal comma
        ("100\u00a0000,00", "100000.00"),  # a no-break space
        ("2400.0", "2400.00"),
        ("1.234,50", "1234.50"),
        ("47800.2", "47800.20"),
        ("1.000", None),  # thousands or decimals: refused, not guessed
        ("12,345", None),
        ("12.345", None),
        ("-5", None),
        ("99999999999999", None),  # beyond NUMERIC(15,2)
        ("7,86E+13", None),
    ],
)
def test_amount_cells(cell: str, expected: str | None) -> None:
    parsed = amount(cell)
    assert (None if parsed is None else str(parsed)) == expected
