"""SCDL subventions export: the schema's columns and formats, filters, and every grant left out
listed in the companion report."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI

from app.opendata import scdl
from tests.conftest import assert_problem, pointers
from tests.factories import make_action, make_commitment, partner_id
from tests.opendata.helpers import amp, publishable_grant, rows


async def _export(app: FastAPI, client: httpx.AsyncClient, **params: str | int) -> httpx.Response:
    return await client.get(app.url_path_for("export_scdl_subventions"), params=params)


async def _unpublishable(
    app: FastAPI, client: httpx.AsyncClient, **params: str | int
) -> list[dict[str, str]]:
    url = app.url_path_for("export_scdl_unpublishable")
    return rows(await client.get(url, params=params))


async def test_header_is_the_schemas_columns_in_its_order(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await _export(app, client)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header = next(csv.reader(io.StringIO(response.text)))
    assert header == [
        "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision",
        "nomBeneficiaire", "idBeneficiaire", "rnaBeneficiaire", "objet", "montant", "nature",
        "conditionsVersement", "datesPeriodeVersement", "idRAE", "notificationUE",
        "pourcentageSubvention", "dispositifAide",
    ]  # fmt: skip
    assert header == scdl.columns()


async def test_a_publishable_grant_is_one_row_in_the_schemas_formats(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    grant = await publishable_grant(
        client, admin, amount="47800.2", label="Tramway nord", eu_notified=True
    )
    [row] = [
        r for r in rows(await _export(app, client)) if r["referenceDecision"] == "DEL-2024-0315"
    ]
    assert row == {
        "nomAttribuant": "Métropole Aix-Marseille-Provence",
        "idAttribuant": "20005480700017",
        "dateConvention": "2024-03-15",
        "referenceDecision": "DEL-2024-0315",
        "nomBeneficiaire": "Ville de Marseille",
        "idBeneficiaire": "21130055300016",
        "rnaBeneficiaire": "",
        "objet": "Tramway nord",
        "montant": "47800.20",
        "nature": "aide en numéraire",
        "conditionsVersement": "unique",
        # one scheduled year (its own), nothing paid yet: from the signature to that year's end
        "datesPeriodeVersement": "2024-03-15/2024-12-31",
        "idRAE": "",
        "notificationUE": "oui",
        "pourcentageSubvention": "1",
        "dispositifAide": row["dispositifAide"],
    }
    assert row["dispositifAide"]  # the chantier's name
    assert grant["amount"] == "47800.20"


async def _grant_row(app: FastAPI, client: httpx.AsyncClient, decision: str) -> dict[str, str]:
    [row] = [r for r in rows(await _export(app, client)) if r["referenceDecision"] == decision]
    return row


async def _pay(client: httpx.AsyncClient, admin: dict[str, str], grant: str, **body: str) -> None:
    response = await client.post(f"/v1/commitments/{grant}/payments", json=body, headers=admin)
    assert response.status_code == 201, response.text


async def test_payment_conditions_and_period_come_from_the_schedule_and_the_payments(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Paid at once: the payment's date. Scheduled over years: `échelonné`, from the signature
    to the end of the last scheduled year or the last payment, whichever is later."""
    once = await publishable_grant(client, admin, amount="30000", decision_ref="ONCE")
    await _pay(client, admin, once["id"], paid_on="2024-06-10", amount="30000", kind="disbursement")
    row = await _grant_row(app, client, "ONCE")
    assert (row["conditionsVersement"], row["datesPeriodeVersement"]) == ("unique", "2024-06-10")

    spread = await publishable_grant(client, admin, amount="90000", decision_ref="SPREAD")
    lines = [{"year": 2024, "amount": "30000"}, {"year": 2025, "amount": "60000"}]
    put = await client.put(
        f"/v1/commitments/{spread['id']}/schedule", json={"lines": lines}, headers=admin
    )
    assert put.status_code == 200, put.text
    row = await _grant_row(app, client, "SPREAD")
    assert row["conditionsVersement"] == "échelonné"
    assert row["datesPeriodeVersement"] == "2024-03-15/2025-12-31"
    # a late payment moves the end; two disbursements on a one-year schedule are instalments
    await _pay(client, admin, spread["id"], paid_on="2026-02-01", amount="10", kind="disbursement")
    row = await _grant_row(app, client, "SPREAD")
    assert row["datesPeriodeVersement"] == "2024-03-15/2026-02-01"
    twice = await publishable_grant(client, admin, amount="40000", decision_ref="TWICE")
    for day in ("2024-04-01", "2024-09-01"):
        await _pay(client, admin, twice["id"], paid_on=day, amount="20000", kind="disbursement")
    row = await _grant_row(app, client, "TWICE")
    assert row["conditionsVersement"] == "échelonné"
    assert row["datesPeriodeVersement"] == "2024-03-15/2024-12-31"


async def test_loans_are_not_grants_and_never_exported(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publishable_grant(client, admin, instrument="loan", decision_ref="LOAN-1")
    assert not [r for r in rows(await _export(app, client)) if r["referenceDecision"] == "LOAN-1"]
    assert not [r for r in await _unpublishable(app, client) if r["external_ref"] == "LOAN-1"]


async def test_each_grant_left_out_is_listed_with_every_reason(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = (await make_action(client, admin))["id"]
    unsigned = await make_commitment(
        client, admin, action_id=action, partner_id=await amp(client), instrument="grant",
        external_ref="UNSIGNED", beneficiary_name="Club", beneficiary_rna="W133012345",
    )  # fmt: skip
    bdt = await make_commitment(
        client, admin, action_id=action, partner_id=await partner_id(client, "BDT"),
        instrument="grant", status="committed", signed_on="2024-01-02", external_ref="BDT-G",
    )  # fmt: skip
    report = await _unpublishable(app, client)
    mine = {(r["commitment_id"], r["field"]) for r in report}
    assert {(unsigned["id"], "status"), (unsigned["id"], "signed_on")} <= mine
    assert (unsigned["id"], "partner.siret") not in mine
    assert {
        (bdt["id"], "partner.siret"),
        (bdt["id"], "beneficiary_name"),
        (bdt["id"], "beneficiary_siret"),
    } <= mine
    exported = rows(await _export(app, client))
    assert not [r for r in exported if r["nomBeneficiaire"] == "Club"]


async def test_every_grant_is_either_exported_or_reported(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publishable_grant(client, admin)
    await publishable_grant(client, admin, signed_on=None, status="planned")
    response = await client.get("/v1/commitments", params={"instrument": "grant", "limit": 500})
    grants = response.json()["items"]
    exported = len(rows(await _export(app, client)))
    reported = {r["commitment_id"] for r in await _unpublishable(app, client)}
    assert exported + len(reported) == len(grants)


async def test_filters_programme_partner_year_and_signature_dates(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publishable_grant(client, admin, decision_ref="F-2023", year=2023, signed_on="2023-06-01")
    await publishable_grant(client, admin, decision_ref="F-2024", year=2024, signed_on="2024-06-01")

    async def refs(**params: str | int) -> set[str]:
        found = {r["referenceDecision"] for r in rows(await _export(app, client, **params))}
        return found & {"F-2023", "F-2024"}

    assert await refs() == {"F-2023", "F-2024"}
    assert await refs(year=2023) == {"F-2023"}
    assert await refs(signed_from="2024-01-01") == {"F-2024"}
    assert await refs(signed_to="2023-12-31") == {"F-2023"}
    assert await refs(partner_id=await partner_id(client, "BDT")) == set()
    assert await refs(partner_id=await amp(client)) == {"F-2023", "F-2024"}
    programmes = (await client.get("/v1/programmes")).json()["items"]
    assert await refs(programme_id=programmes[0]["id"]) == {"F-2023", "F-2024"}
    assert await refs(programme_id="00000000-0000-0000-0000-000000000000") == set()


async def test_bad_filter_is_400_naming_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    bad_date = await _export(app, client, signed_from="2024-13-01")
    assert pointers(assert_problem(bad_date, 400)) == ["signed_from"]
    unknown = await _export(app, client, colour="red")
    assert pointers(assert_problem(unknown, 400)) == ["colour"]


async def test_a_formula_in_a_name_is_neutralised(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publishable_grant(
        client, admin, decision_ref="FORMULA", beneficiary_name='=HYPERLINK("x")'
    )
    [row] = [r for r in rows(await _export(app, client)) if r["referenceDecision"] == "FORMULA"]
    assert row["nomBeneficiaire"] == '\'=HYPERLINK("x")'


async def test_the_export_links_its_companion_report(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await _export(app, client, year=2024)
    link = response.headers["Link"]
    assert link.startswith("<" + app.url_path_for("export_scdl_unpublishable") + "?year=2024>")
    assert link.endswith('rel="related"')


async def test_dates_are_iso_dates_not_timestamps(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Found by the schema fuzzing: `signed_to=0` was read as a Unix timestamp (1970-01-01)."""
    for route in ("export_scdl_subventions", "export_scdl_unpublishable"):
        response = await client.get(app.url_path_for(route), params={"signed_to": "0"})
        body = assert_problem(response, 400)
        assert [e["parameter"] for e in body["errors"]] == ["signed_to"]


async def test_the_export_is_written_whole_before_it_is_sent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """No pooled connection waits on a slow reader: the file is spooled, then sent, with its
    length (as the aggregates' CSV, tests/starve/test_slow_readers.py)."""
    response = await _export(app, client)
    assert int(response.headers["content-length"]) == len(response.content)
