"""Fiscal Data Package export: a zip of datapackage.json and the commitments, every one of them,
amounts exact to the cent."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import httpx
from fastapi import FastAPI

from app.opendata import fiscal
from tests.conftest import assert_problem, pointers
from tests.factories import make_commitment


async def _package(app: FastAPI, client: httpx.AsyncClient, **params: str | int) -> zipfile.ZipFile:
    response = await client.get(app.url_path_for("export_fiscal_data_package"), params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


async def test_zip_holds_the_descriptor_and_every_commitment_to_the_cent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await make_commitment(client, admin, amount="1234.56", year=2023)
    await make_commitment(client, admin, amount="0.01", year=2024, status="committed")
    archive = await _package(app, client)
    assert sorted(archive.namelist()) == ["commitments.csv", "datapackage.json", "payments.csv"]
    package = json.loads(archive.read("datapackage.json"))
    resource, payments = package["resources"]
    assert [f["name"] for f in resource["schema"]["fields"]] == [n for n, *_ in fiscal.FIELDS]
    assert [f["name"] for f in payments["schema"]["fields"]] == [
        n for n, *_ in fiscal.PAYMENT_FIELDS
    ]
    assert package["fiscalPeriod"] == {"start": "2020-01-01", "end": "2026-12-31"}
    assert package["model"]["measures"]["amount"] == {"source": "amount", "currency": "EUR"}
    lines = list(csv.DictReader(io.StringIO(archive.read("commitments.csv").decode())))
    listed = (await client.get("/v1/commitments", params={"limit": 500})).json()["items"]
    assert {r["commitment_id"] for r in lines} == {c["id"] for c in listed}
    assert sum(Decimal(r["amount"]) for r in lines) == sum(Decimal(c["amount"]) for c in listed)
    assert {r["direction"] for r in lines} == {"expenditure"}


async def test_payments_are_dated_signed_and_refer_to_their_commitment(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    paid = await make_commitment(client, admin, amount="500.00", year=2023, status="committed")
    for body in (
        {"paid_on": "2023-05-02", "amount": "200.00", "kind": "disbursement"},
        {"paid_on": "2024-01-15", "amount": "50.25", "kind": "reversal"},
    ):
        made = await client.post(f"/v1/commitments/{paid['id']}/payments", json=body, headers=admin)
        assert made.status_code == 201, made.text
    other_year = await make_commitment(client, admin, amount="9.00", year=2024)
    await client.post(
        f"/v1/commitments/{other_year['id']}/payments",
        json={"paid_on": "2024-02-01", "amount": "9.00", "kind": "disbursement"},
        headers=admin,
    )
    archive = await _package(app, client, year=2023)
    lines = list(csv.DictReader(io.StringIO(archive.read("payments.csv").decode())))
    mine = [r for r in lines if r["commitment_id"] == paid["id"]]
    assert [(r["paid_on"], r["fiscal_year"], r["amount"], r["kind"]) for r in mine] == [
        ("2023-05-02", "2023", "200.00", "disbursement"),
        ("2024-01-15", "2024", "-50.25", "reversal"),
    ]
    # only the payments of the commitments exported: every one refers to a line
    committed = {
        r["commitment_id"]
        for r in csv.DictReader(io.StringIO(archive.read("commitments.csv").decode()))
    }
    assert {r["commitment_id"] for r in lines} <= committed
    assert other_year["id"] not in {r["commitment_id"] for r in lines}


async def test_filters_by_year_and_programme(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await make_commitment(client, admin, year=2023)
    archive = await _package(app, client, year=2023)
    lines = list(csv.DictReader(io.StringIO(archive.read("commitments.csv").decode())))
    assert lines
    assert {r["fiscal_year"] for r in lines} == {"2023"}
    nowhere = await _package(app, client, programme_id="00000000-0000-0000-0000-000000000000")
    assert nowhere.read("commitments.csv").decode().count("\n") == 1  # the header alone
    bad = await client.get(app.url_path_for("export_fiscal_data_package"), params={"year": "x"})
    assert pointers(assert_problem(bad, 400)) == ["year"]


async def test_the_package_is_made_on_the_service_s_own_read_sessions(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    """Found by the schema fuzzing: a read session is in autocommit, where the streamed query
    could open no cursor, and the filtered export was a 500."""
    programme = (await live_client.get("/v1/programmes", params={"limit": 1})).json()["items"][0]
    url = live_app.url_path_for("export_fiscal_data_package")
    response = await live_client.get(url, params={"programme_id": programme["id"], "year": 2199})
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "datapackage.json" in archive.namelist()
