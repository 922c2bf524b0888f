"""Indicator definitions and each action's record through the API: ETags, the units rule, and
every bad input of the issue answered 422 naming the field, with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem, count, pointers
from tests.factories import make_action
from tests.indicators.helpers import make_indicator, record_url

Headers = dict[str, str]


async def _refused(connection: AsyncConnection, sql: str, **params: Any) -> str:
    """The name of the constraint the database refuses this statement with."""
    with pytest.raises(IntegrityError) as refused:
        async with connection.begin_nested():
            await connection.execute(text(sql), params)
    return str(refused.value.orig.__cause__.constraint_name)  # type: ignore[union-attr]


RECORD: dict[str, Any] = {
    "baseline": {"value": "10", "on": "2020-01-01"},
    "targets": [{"year": 2026, "value": "30"}, {"year": 2024, "value": "20"}],
    "actuals": [{"on": "2024-06-01", "value": "15.50"}, {"on": "2023-05-01", "value": "12"}],
}


async def _record(client: httpx.AsyncClient, admin: Headers, **indicator: Any) -> tuple[str, str]:
    ind = await make_indicator(client, admin, **indicator)
    action = await make_action(client, admin)
    url = record_url(action["id"], ind["id"])
    assert (await client.put(url, json=RECORD, headers=admin)).status_code == 201
    return url, ind["id"]


async def test_indicator_crud_with_etags(client: httpx.AsyncClient, admin: Headers) -> None:
    ind = await make_indicator(client, admin, direction="decrease", aggregation="none")
    url = f"/v1/indicators/{ind['id']}"
    got = await client.get(url)
    assert got.json() == ind
    assert got.headers["ETag"] == ind["etag"]
    assert (await client.get(url, headers={"If-None-Match": ind["etag"]})).status_code == 304
    patched = await client.patch(
        url, json={"name": "Bus"}, headers=admin | {"If-Match": ind["etag"]}
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Bus"
    stale = await client.patch(url, json={"name": "X"}, headers=admin | {"If-Match": ind["etag"]})
    assert_problem(stale, 412)
    listed = await client.get("/v1/indicators", params={"code": ind["code"]})
    assert [i["id"] for i in listed.json()["items"]] == [ind["id"]]
    deleted = await client.delete(url, headers=admin | {"If-Match": patched.json()["etag"]})
    assert deleted.status_code == 204
    assert_problem(await client.get(url), 404)


async def test_an_indicator_actions_follow_is_not_deleted(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _, indicator_id = await _record(client, admin)
    assert_problem(await client.delete(f"/v1/indicators/{indicator_id}", headers=admin), 409)


async def test_record_put_get_etag_and_achievement(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    ind = await make_indicator(client, admin)
    action = await make_action(client, admin)
    url = record_url(action["id"], ind["id"])
    created = await client.put(url, json=RECORD, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["targets"] == [{"year": 2024, "value": "20"}, {"year": 2026, "value": "30"}]
    assert [a["value"] for a in body["actuals"]] == ["12", "15.50"]  # date order, as sent
    # 2024: (15.50 - 10) / (20 - 10); 2026: (15.50 - 10) / (30 - 10).
    assert body["achievement"] == [
        {"year": 2024, "actual": "15.50", "achievement": "0.5500"},
        {"year": 2026, "actual": "15.50", "achievement": "0.2750"},
    ]
    got = await client.get(url)
    assert got.json() == body
    assert got.headers["ETag"] == body["etag"]
    assert (await client.get(url, headers={"If-None-Match": body["etag"]})).status_code == 304
    # The same record again writes nothing; a change needs the current ETag.
    again = await client.put(url, json=RECORD, headers=admin | {"If-Match": body["etag"]})
    assert again.status_code == 200
    assert again.json()["etag"] == body["etag"]
    changed = RECORD | {"baseline": None}
    updated = await client.put(url, json=changed, headers=admin | {"If-Match": body["etag"]})
    assert updated.status_code == 200
    assert updated.json()["etag"].endswith('-2"')
    assert [y["achievement"] for y in updated.json()["achievement"]] == [None, None]
    stale = await client.put(url, json=RECORD, headers=admin | {"If-Match": body["etag"]})
    assert_problem(stale, 412)
    listed = await client.get(f"/v1/actions/{action['id']}/indicators")
    assert listed.json()["items"] == [updated.json()]
    gone = await client.delete(url, headers=admin | {"If-Match": updated.json()["etag"]})
    assert gone.status_code == 204
    assert_problem(await client.get(url), 404)


async def test_decreasing_indicator_achievement_is_positive_when_it_falls(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    ind = await make_indicator(client, admin, direction="decrease", unit="min")
    action = await make_action(client, admin)
    body = {
        "baseline": {"value": "40", "on": "2020-01-01"},
        "targets": [{"year": 2025, "value": "25"}],
        "actuals": [{"on": "2025-03-01", "value": "31"}],
    }
    put = await client.put(record_url(action["id"], ind["id"]), json=body, headers=admin)
    # (31 - 40) / (25 - 40) = 0.6
    assert put.json()["achievement"] == [{"year": 2025, "actual": "31", "achievement": "0.6000"}]


def _future() -> str:
    return (datetime.now(UTC).date() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"targets": [{"year": 2024, "value": 20}]}, "/targets/0/value"),  # a JSON number
        ({"targets": [{"year": 2024, "value": "1e3"}]}, "/targets/0/value"),
        ({"targets": [{"year": 2024, "value": "NaN"}]}, "/targets/0/value"),
        ({"baseline": {"value": "1.23456", "on": "2020-01-01"}}, "/baseline/value"),
        ({"targets": [{"year": 2031, "value": "20"}]}, "/targets/0/year"),
        ({"targets": [{"year": 2019, "value": "20"}]}, "/targets/0/year"),
        (
            {"targets": [{"year": 2024, "value": "1"}, {"year": 2024, "value": "2"}]},
            "/targets/1/year",
        ),
        ({"actuals": [{"on": "FUTURE", "value": "3"}]}, "/actuals/0/on"),
        (
            {
                "actuals": [
                    {
                        "on": "2024-01-01",
                        "value": "3",
                        "partner_id": "9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
                    }
                ]
            },
            "/actuals/0/partner_id",
        ),
    ],
)
async def test_bad_record_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    admin: Headers,
    connection: AsyncConnection,
    body: dict[str, Any],
    pointer: str,
) -> None:
    ind = await make_indicator(client, admin)
    action = await make_action(client, admin)
    for actual in body.get("actuals", []):
        if actual["on"] == "FUTURE":
            actual["on"] = _future()
    before = await count(connection, "action_indicators")
    response = await client.put(record_url(action["id"], ind["id"]), json=body, headers=admin)
    problem = assert_problem(response, 422)
    assert pointers(problem) == [pointer]
    assert await count(connection, "action_indicators") == before


async def test_the_database_refuses_an_actual_in_the_future(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection
) -> None:
    await _record(client, admin)
    sql = "UPDATE indicator_actuals SET measured_on = current_date + 1"
    assert await _refused(connection, sql) == "indicator_actuals_on_not_in_future_check"


async def test_a_target_outside_the_programme_is_refused_by_the_database(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection
) -> None:
    await _record(client, admin)
    sql = "UPDATE indicator_targets SET year = 2031 WHERE year = 2024"
    assert await _refused(connection, sql) == "indicator_targets_programme_id_year_fkey"


async def test_sum_is_refused_while_values_mix_units(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    url, indicator_id = await _record(client, admin, aggregation="none", unit="km")
    ind_url = f"/v1/indicators/{indicator_id}"
    # A `none` indicator may change unit: its values are never added up.
    assert (await client.patch(ind_url, json={"unit": "m"}, headers=admin)).status_code == 200
    refused = await client.patch(ind_url, json={"aggregation": "sum"}, headers=admin)
    assert pointers(assert_problem(refused, 422)) == ["/aggregation"]
    assert (await client.get(ind_url)).json()["aggregation"] == "none"
    # Restated in the new unit, the values add up again.
    restated = await client.put(url, json=RECORD, headers=admin)
    assert restated.json()["unit"] == "m"
    assert (
        await client.patch(ind_url, json={"aggregation": "sum"}, headers=admin)
    ).status_code == 200
    # Once it adds them up, its unit is locked.
    locked = await client.patch(ind_url, json={"unit": "km"}, headers=admin)
    assert pointers(assert_problem(locked, 422)) == ["/unit"]


async def test_the_database_refuses_sum_over_mixed_units(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection
) -> None:
    _, indicator_id = await _record(client, admin, aggregation="sum", unit="km")
    sql = "UPDATE indicators SET unit = 'm' WHERE id = :id"
    assert await _refused(connection, sql, id=indicator_id) == "indicators_units_unmixed_check"


async def test_a_programme_indicator_is_not_open_to_another_programme(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    programme = await client.post(
        "/v1/programmes",
        json={
            "code": "OTHER-P",
            "name": "Autre",
            "start_year": 2021,
            "end_year": 2027,
            "territory_code": "200054807",
        },
        headers=admin,
    )
    ind = await make_indicator(client, admin, programme_id=programme.json()["id"])
    action = await make_action(client, admin)
    response = await client.put(record_url(action["id"], ind["id"]), json=RECORD, headers=admin)
    assert_problem(response, 404)
