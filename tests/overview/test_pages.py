"""The overview pages: the same figures as the API, in French by default and in English when
asked, a programme's chantiers, years and communes, and nothing shown when reads are private."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import httpx
import pytest
from fastapi import FastAPI

from app.config import AuthSettings, Settings
from app.main import attach_database, create_app
from app.overview import i18n
from tests.conftest import Session, assert_problem
from tests.factories import make_commitment

FIRST = "AMP-RR-2020-2026"


def data_values(html: str, prefix: str) -> dict[str, Decimal]:
    """`<data id="PREFIXcommitted" value="12.34">` -> {"committed": Decimal("12.34")}."""
    found = re.findall(rf'<data id="{re.escape(prefix)}(\w+)" value="([0-9.]+)">', html)
    return {name: Decimal(value) for name, value in found}


def amounts(figures: dict[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(figures[k]) for k in ("committed", "disbursed", "planned")}


@pytest.fixture
async def filled(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await make_commitment(client, admin, amount="1234567.89", status="committed")
    await make_commitment(client, admin, amount="10.01", status="planned")


@pytest.mark.usefixtures("filled")
async def test_overview_totals_are_the_summarys(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    summary = (await client.get("/v1/summary")).json()
    totals = data_values(page.text, "total-")
    assert totals == {
        k: Decimal(summary["totals"][k]) for k in ("committed", "disbursed", "planned")
    }
    assert totals["committed"] >= Decimal("1234567.89")
    for cell in summary["by_programme"]:
        code = cell["programme"]["code"]
        shown = data_values(page.text, f"programme-{code}-")
        assert shown == amounts(cell)


@pytest.mark.usefixtures("filled")
async def test_programme_page_totals_and_chantiers(client: httpx.AsyncClient) -> None:
    programme = (await client.get("/v1/programmes", params={"code": FIRST})).json()["items"][0]
    page = await client.get(f"/programmes/{FIRST}")
    assert page.status_code == 200
    summary = (await client.get(f"/v1/programmes/{programme['id']}/summary")).json()
    totals = data_values(page.text, "total-")
    assert totals == {
        k: Decimal(summary["totals"][k]) for k in ("committed", "disbursed", "planned")
    }
    chantiers = (await client.get("/v1/chantiers", params={"programme_id": programme["id"]})).json()
    text = unescape(page.text)
    for chantier in chantiers["items"]:  # every chantier has its row, with or without money
        assert f"{chantier['number']}. {chantier['name']}" in text
    for year in range(programme["start_year"], programme["end_year"] + 1):
        assert f">{year}</text>" in page.text  # an axis label per year of the period
    assert '<svg class="curve"' in page.text
    assert 'role="img"' in page.text  # the curve has a text alternative
    assert text.count('<rect class="scheduled"') == len(chantiers["items"])  # a bar each


async def test_programme_page_cash_flow_is_the_summarys(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Committed, scheduled, paid and what remains, year by year past the programme's end."""
    made = await make_commitment(client, admin, amount="900.00", year=2024, status="committed")
    lines = [{"year": 2024, "amount": "300.00"}, {"year": 2027, "amount": "600.00"}]
    put = await client.put(f"/v1/commitments/{made['id']}/schedule", json={"lines": lines},
                           headers=admin)  # fmt: skip
    assert put.status_code == 200, put.text
    paid = await client.post(
        f"/v1/commitments/{made['id']}/payments",
        json={"paid_on": "2024-09-30", "amount": "250.00", "kind": "disbursement"},
        headers=admin,
    )
    assert paid.status_code == 201, paid.text
    programme = (await client.get("/v1/programmes", params={"code": FIRST})).json()["items"][0]
    summary = (await client.get(f"/v1/programmes/{programme['id']}/summary")).json()
    page = (await client.get(f"/programmes/{FIRST}")).text
    remaining = data_values(page, "remaining-")
    assert remaining == {
        str(y["year"]): Decimal(y["remaining"]) for y in summary["cashflow_by_year"]
    }
    assert remaining["2024"] >= Decimal("650.00")  # the seed's commitments may add to it
    # a year scheduled past the programme's end has its row; nothing paid since 2024
    assert remaining["2027"] - remaining["2024"] == sum(
        Decimal(y["committed"]) - Decimal(y["paid"])
        for y in summary["cashflow_by_year"]
        if 2024 < y["year"] <= 2027
    )
    assert 'aria-labelledby="cashflow-title"' in page


async def test_french_by_default_english_when_asked(client: httpx.AsyncClient) -> None:
    french = await client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="fr">' in french.text
    assert french.headers["content-language"] == "fr"
    assert "Engagé" in french.text
    english = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text
    asked = await client.get("/", params={"lang": "fr"}, headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in asked.text
    assert "Committed" in english.text
    assert "accept-language" in english.headers["vary"].lower()


async def test_unknown_programme_and_bad_language(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/programmes/NOPE"), 404, "NOT_FOUND")
    bad = assert_problem(await client.get("/", params={"lang": "de"}), 400, "INVALID_PARAMETER")
    assert [e["parameter"] for e in bad["errors"]] == ["lang"]


async def test_nothing_is_shown_when_reads_need_a_key(
    settings: Settings, engine: object, sessionmaker: Session
) -> None:
    private = settings.model_copy(update={"auth": AuthSettings(read_requires_key=True)})
    app: FastAPI = create_app(private)
    attach_database(app, engine, sessionmaker)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/", f"/programmes/{FIRST}"):
            answer = await client.get(path)
            assert_problem(answer, 403, "FORBIDDEN")
            assert "Engagé" not in answer.text


def test_money_is_written_as_each_language_writes_it_to_the_cent() -> None:
    amount = Decimal("1094314763.17")
    assert i18n.money(amount, "fr") == "1\u202f094\u202f314\u202f763,17\u202f€"
    assert i18n.money(amount, "en") == "€1,094,314,763.17"
    assert i18n.money(Decimal("0"), "fr") == "0,00\u202f€"
    assert i18n.money(Decimal("999.5"), "en") == "€999.50"
    assert i18n.percent(Decimal("0.577340"), "fr") == "57,7\u202f%"
    assert i18n.percent(None, "en") == "–"
    assert i18n.short_money(Decimal("2450000000"), "fr") == "2450,0\u202fM€"
