"""CSV, errors, progress and summary, over the same overlapping dataset as test_aggregates."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem
from tests.reporting import oracle
from tests.reporting.test_aggregates import build


@pytest.fixture
async def dataset(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> dict[str, Any]:
    return await build(client, admin, connection)


async def test_csv_is_its_own_operation_with_the_same_cells_and_a_sep_line(
    client: httpx.AsyncClient, dataset: dict[str, Any]
) -> None:
    query = "drilldown=priority,year&order=-committed&year_from=2021"
    json_body = (await client.get(f"/v1/aggregates/commitments?{query}&page_size=10000")).json()
    response = await client.get(f"/v1/aggregates/commitments.csv?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "sep=;"
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:])), delimiter=";"))
    assert len(rows) == len(json_body["cells"]) > 1
    for row, cell in zip(rows, json_body["cells"], strict=True):
        assert row["priority_code"] == (cell["priority"] or {}).get("code", "")
        assert int(row["year"]) == cell["year"]
        for measure in ("planned", "committed", "disbursed"):
            assert row[measure] == cell[measure]
        assert int(row["count"]) == cell["count"]
        assert row["execution_rate"] == (cell["execution_rate"] or "")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("drilldown=priority,colour", "drilldown"),
        ("drilldown=year&order=-profit", "order"),
        ("drilldown=year&order=chantier", "order"),
        ("cut=year:2024", "cut"),
        ("partner=NOBODY", "partner"),
        ("chantier=00000000-0000-0000-0000-000000000000", "chantier"),
        ("status=signed", "status"),
        ("commune=Marseille", "commune"),
        ("page_size=10001", "page_size"),
        ("format=xlsx", "format"),
    ],
)
async def test_unknown_dimension_measure_or_filter_is_400_problem(
    client: httpx.AsyncClient, query: str, parameter: str
) -> None:
    body = assert_problem(await client.get(f"/v1/aggregates/commitments?{query}"), 400)
    assert body["reason"] == "INVALID_PARAMETER"
    assert parameter in [e["parameter"] for e in body["errors"]]


def _rate(numerator: Decimal, denominator: Decimal) -> str | None:
    if not denominator:
        return None
    return f"{(numerator / denominator).quantize(Decimal('0.000001'), ROUND_HALF_EVEN):.6f}"


async def _check_progress(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    path: str,
    chantier_ids: set[str],
    targets: dict[int, Decimal],
) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    data = await oracle.load(connection)
    assert [y["year"] for y in body["years"]] == list(range(2020, 2027))
    for year in body["years"]:
        figures = oracle.Figures()
        for row in data.commitments:
            action = data.actions[row["action_id"]]
            if action["chantier_id"] in chantier_ids and row["year"] == year["year"]:
                figures.add(row)
        expected = figures.json()
        target = targets.get(year["year"])
        assert year["planned"] == expected["planned"], year
        assert year["committed"] == expected["committed"], year
        assert year["disbursed"] == expected["disbursed"], year
        assert year["execution_rate"] == expected["execution_rate"], year
        assert year["target"] == (None if target is None else f"{target:.2f}")
        assert year["commitment_rate"] == (
            None if target is None else _rate(figures.committed, target)
        )
    live = [
        a for a in data.actions.values()
        if a["chantier_id"] in chantier_ids and a["status"] != "cancelled"
    ]  # fmt: skip
    weight = sum(a["weight"] for a in live)
    physical = body["physical_progress"]
    assert physical["actions"] == len(live)
    assert physical["total_weight"] == weight
    expected_percent = (
        f"{(Decimal(sum(a['progress'] * a['weight'] for a in live)) / weight):.2f}"
        if weight
        else None
    )
    assert physical["percent"] == expected_percent


async def test_chantier_progress_year_by_year_against_its_target(
    client: httpx.AsyncClient, connection: AsyncConnection, dataset: dict[str, Any]
) -> None:
    transports = dataset["chantiers"]["TRANSPORTS"]
    targets = {year: Decimal("350000000.00") for year in range(2020, 2027)}
    path = f"/v1/chantiers/{transports}/progress"
    await _check_progress(client, connection, path, {transports}, targets)
    body = (await client.get(path)).json()
    assert body["code"] == "TRANSPORTS"
    # A-TRAM (40 %, weight 3) and A-BUS (100 %, weight 1): (120 + 100) / 4 = 55 %
    assert body["physical_progress"]["percent"] == "55.00"
    assert body["totals"]["target"] == "2450000000.00"


async def test_priority_progress_covers_the_chantiers_serving_it(
    client: httpx.AsyncClient, connection: AsyncConnection, dataset: dict[str, Any]
) -> None:
    emploi = dataset["priorities"]["EMPLOI"]
    c = dataset["chantiers"]
    served = {c["SECTEURS_TOUCHES"], c["SANTE_BAS_CARBONE"], c["RELOCALISATION"]}
    await _check_progress(client, connection, f"/v1/priorities/{emploi}/progress", served, {})


async def test_progress_of_an_unknown_chantier_or_priority_is_404(
    client: httpx.AsyncClient,
) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(await client.get(f"/v1/chantiers/{missing}/progress"), 404, "NOT_FOUND")
    assert_problem(await client.get(f"/v1/priorities/{missing}/progress"), 404, "NOT_FOUND")


async def test_summary_gives_totals_and_each_breakdown_in_one_request(
    client: httpx.AsyncClient, connection: AsyncConnection, dataset: dict[str, Any]
) -> None:
    response = await client.get("/v1/summary")
    assert response.status_code == 200, response.text
    body = response.json()
    data = await oracle.load(connection)
    _, totals = oracle.aggregate(data, [], {})
    assert body["totals"] == totals
    for dim in ("priority", "chantier", "partner", "year"):
        expected, _ = oracle.aggregate(data, [dim], {})
        got = {oracle.cell_key(c, [dim]): oracle.measures(c) for c in body[f"by_{dim}"]}
        assert got == expected, dim
    by_priority = sum(c["count"] for c in body["by_priority"])
    assert by_priority > totals["count"]  # overlapping, as documented


async def test_summary_answers_as_the_aggregate_endpoint_does_cell_for_cell(
    client: httpx.AsyncClient, dataset: dict[str, Any]
) -> None:
    # /v1/summary is one statement of its own: same cells, same order, same shape as the
    # aggregate endpoint (entities by committed descending then code, years in order).
    body = (await client.get("/v1/summary")).json()
    url = "/v1/aggregates/commitments?page_size=10000&drilldown="
    aggregate = (await client.get(url + "priority")).json()
    assert body["totals"] == aggregate["summary"]
    for dim in ("priority", "chantier", "partner", "year"):
        order = "" if dim == "year" else "&order=-committed"
        cells = (await client.get(url + dim + order)).json()["cells"]
        assert body[f"by_{dim}"] == cells, dim


async def test_aggregates_see_a_write_as_soon_as_it_is_committed(
    live_client: httpx.AsyncClient, live_admin: dict[str, str]
) -> None:
    """Real commits, no test transaction: no cache, no delay between a write and its figures."""
    before = (await live_client.get("/v1/aggregates/commitments")).json()["summary"]
    chantiers = (await live_client.get("/v1/chantiers?number=5")).json()["items"]
    action = await live_client.post(
        "/v1/actions",
        json={"code": "LIVE-1", "chantier_id": chantiers[0]["id"], "title": "Live"},
        headers=live_admin,
    )
    partners = (await live_client.get("/v1/partners?code=BDT")).json()["items"]
    created = await live_client.post(
        "/v1/commitments",
        json={
            "action_id": action.json()["id"],
            "partner_id": partners[0]["id"],
            "year": 2024,
            "amount": "1000.01",
            "disbursed_amount": "0.01",
            "instrument": "grant",
            "status": "committed",
        },
        headers=live_admin,
    )
    assert created.status_code == 201, created.text
    after = (await live_client.get("/v1/aggregates/commitments")).json()["summary"]
    assert Decimal(after["committed"]) - Decimal(before["committed"]) == Decimal("1000.01")
    assert after["count"] == before["count"] + 1
    deleted = await live_client.delete(
        f"/v1/commitments/{created.json()['id']}", headers=live_admin
    )
    assert deleted.status_code == 204
    assert (await live_client.get("/v1/aggregates/commitments")).json()["summary"] == before


async def test_csv_with_decimal_comma_for_french_spreadsheets(
    client: httpx.AsyncClient, dataset: dict[str, Any]
) -> None:
    query = "drilldown=year"
    point = (await client.get(f"/v1/aggregates/commitments.csv?{query}")).text.splitlines()
    comma = (await client.get(f"/v1/aggregates/commitments.csv?{query}&decimal=comma")).text
    rows = list(csv.DictReader(io.StringIO("\n".join(comma.splitlines()[1:])), delimiter=";"))
    expected = list(csv.DictReader(io.StringIO("\n".join(point[1:])), delimiter=";"))
    assert rows
    for row, reference in zip(rows, expected, strict=True):
        assert row["committed"] == reference["committed"].replace(".", ",")
        assert "," in row["planned"]
        assert "." not in row["planned"]
        assert row["year"] == reference["year"]
    assert_problem(await client.get(f"/v1/aggregates/commitments.csv?{query}&decimal=dot"), 400)


async def test_the_json_operation_answers_json_only_and_names_the_csv_one(
    client: httpx.AsyncClient, dataset: dict[str, Any]
) -> None:
    """`format=csv` and `Accept: text/csv` were served by the JSON operation before the CSV
    became its own: a client still asking so is told where the CSV is, never sent JSON it did
    not ask for."""
    moved = assert_problem(
        await client.get("/v1/aggregates/commitments?drilldown=year&format=csv"), 400
    )
    assert moved["errors"][0]["parameter"] == "format"
    assert "/v1/aggregates/commitments.csv" in moved["detail"]
    refused = await client.get(
        "/v1/aggregates/commitments?drilldown=year", headers={"Accept": "text/csv"}
    )
    assert_problem(refused, 406, "NOT_ACCEPTABLE")
    assert "/v1/aggregates/commitments.csv" in refused.json()["detail"]
    for accept in ("text/csv, application/json;q=0.5", "*/*", "application/json"):
        answer = await client.get(
            "/v1/aggregates/commitments?drilldown=year", headers={"Accept": accept}
        )
        assert answer.status_code == 200, accept
        assert answer.headers["content-type"] == "application/json"
    assert (
        await client.get("/v1/aggregates/commitments?drilldown=year&format=json")
    ).status_code == 200
