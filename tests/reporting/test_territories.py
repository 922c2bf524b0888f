"""Territorial drilldowns: a commitment on an action of several communes is split in equal
shares to the cent (the remaining cents to the first communes), each share going to its
commune's EPCI and département, so the cells add up to the total; per-inhabitant measures
divide by the referential's populations."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.factories import make_action, make_commitment

AGGREGATES = "/v1/aggregates/commitments"
# Marseille, Aix-en-Provence (both in the Métropole, SIREN 200054807) and Toulon (Var, TPM).
MARSEILLE, AIX, TOULON = "13055", "13001", "83137"
AMP, TPM = "200054807", "248300543"


@pytest.fixture
async def split(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """1,000.00 € committed on an action of three communes, 10.01 € on Marseille alone, and
    5.00 € on an action without commune."""
    three = await make_action(client, admin, communes=[MARSEILLE, AIX, TOULON])
    alone = await make_action(client, admin, communes=[MARSEILLE])
    nowhere = await make_action(client, admin, communes=[])
    for action, amount in ((three, "1000.00"), (alone, "10.01"), (nowhere, "5.00")):
        await make_commitment(
            client, admin, action_id=action["id"], amount=amount, status="committed"
        )


async def _cells(client: httpx.AsyncClient, query: str) -> tuple[dict[Any, Any], dict[str, Any]]:
    response = await client.get(f"{AGGREGATES}?{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    return {cell[query.split("=")[1].split("&")[0]]: cell for cell in body["cells"]}, body


async def _populations(client: httpx.AsyncClient) -> dict[str, int]:
    out = {}
    for kind, code in (("commune", MARSEILLE), ("commune", AIX), ("commune", TOULON),
                       ("epci", AMP), ("epci", TPM), ("departement", "13"),
                       ("departement", "83")):  # fmt: skip
        response = await client.get(f"/v1/territories/{kind}:{code}")
        assert response.status_code == 200, response.text
        out[code] = response.json()["population"]
    return out


async def test_communes_share_the_money_to_the_cent(client: httpx.AsyncClient, split: None) -> None:
    cells, body = await _cells(client, "drilldown=commune")
    assert cells[MARSEILLE]["committed"] == "343.35"  # 333.34 + 10.01: first in its action
    assert cells[AIX]["committed"] == "333.33"
    assert cells[TOULON]["committed"] == "333.33"
    assert cells[None]["committed"] == "5.00"
    assert cells[MARSEILLE]["count"] == 2
    assert body["summary"]["committed"] == "1015.01"
    assert sum(Decimal(c["committed"]) for c in cells.values()) == Decimal("1015.01")
    assert body["overlapping"] is False


async def test_epci_and_departement_add_the_shares_of_their_communes(
    client: httpx.AsyncClient, split: None
) -> None:
    epci, body = await _cells(client, "drilldown=epci")
    assert epci[AMP]["committed"] == "676.68"  # Marseille's and Aix's shares
    assert epci[AMP]["count"] == 2  # each commitment once, whatever its communes there
    assert epci[TPM]["committed"] == "333.33"
    assert epci[None]["committed"] == "5.00"
    departements, _ = await _cells(client, "drilldown=departement")
    assert departements["13"]["committed"] == "676.68"
    assert departements["83"]["committed"] == "333.33"
    assert body["summary"]["committed"] == "1015.01"


async def test_a_territorial_filter_keeps_the_shares_placed_there(
    client: httpx.AsyncClient, split: None
) -> None:
    body = (await client.get(f"{AGGREGATES}?epci={AMP}")).json()
    assert body["summary"]["committed"] == "676.68"
    assert body["summary"]["count"] == 2
    body = (await client.get(f"{AGGREGATES}?departement=83&drilldown=commune")).json()
    assert body["summary"]["committed"] == "333.33"
    assert [c["commune"] for c in body["cells"]] == [TOULON]


async def test_per_inhabitant_divides_by_the_finest_territory_to_the_cent(
    client: httpx.AsyncClient, split: None
) -> None:
    populations = await _populations(client)

    def per(money: str, population: int) -> str:
        return f"{(Decimal(money) / population).quantize(Decimal('0.01')):.2f}"

    communes, _ = await _cells(client, "drilldown=commune")
    marseille = communes[MARSEILLE]
    assert marseille["population"] == populations[MARSEILLE] == 886_040
    assert marseille["committed_per_inhabitant"] == per("343.35", 886_040) == "0.00"
    assert communes[None]["population"] is None
    assert communes[None]["committed_per_inhabitant"] is None
    epci, _ = await _cells(client, "drilldown=epci")
    assert epci[AMP]["population"] == populations[AMP]
    body = (await client.get(f"{AGGREGATES}?drilldown=departement,commune")).json()
    toulon = next(c for c in body["cells"] if c["commune"] == TOULON)
    assert toulon["departement"] == "83"
    assert toulon["population"] == populations[TOULON]  # the finest territory: the commune


async def test_per_inhabitant_keeps_its_cents(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Enough money that the quotient has cents: 12,345,678.91 € over Toulon's population."""
    action = await make_action(client, admin, communes=[TOULON])
    await make_commitment(
        client, admin, action_id=action["id"], amount="12345678.91", status="committed"
    )
    population = (await _populations(client))[TOULON]
    cells, _ = await _cells(client, "drilldown=commune")
    expected = (Decimal("12345678.91") / population).quantize(Decimal("0.01"))
    assert cells[TOULON]["committed_per_inhabitant"] == f"{expected:.2f}"
    assert Decimal(cells[TOULON]["committed_per_inhabitant"]) > 1


async def test_csv_carries_the_population_and_the_per_inhabitant_measures(
    client: httpx.AsyncClient, split: None
) -> None:
    response = await client.get(f"{AGGREGATES}.csv?drilldown=epci&decimal=comma")
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text.split("\r\n", 1)[1]), delimiter=";"))
    by_epci = {row["epci"]: row for row in rows}
    json_cells, _ = await _cells(client, "drilldown=epci")
    assert by_epci[AMP]["committed"] == "676,68"
    assert by_epci[AMP]["population"] == str(json_cells[AMP]["population"])
    assert by_epci[AMP]["committed_per_inhabitant"] == json_cells[AMP][
        "committed_per_inhabitant"
    ].replace(".", ",")
    assert by_epci[""]["population"] == ""
