"""Lists: cursor pagination over every sort, strict parameters, cursors bound to their filters."""

from __future__ import annotations

import base64
import itertools
import json
from decimal import Decimal

import httpx
import pytest

from tests.conftest import assert_problem, pointers
from tests.factories import make_action, make_commitment


@pytest.fixture
async def twelve(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, object]]:
    action = await make_action(client, admin)
    amounts = ["5.00", "1.00", "3.00", "5.00", "2.00", "9.00", "5.00", "7.00", "1.00", "4.00",
               "6.00", "8.00"]  # fmt: skip
    return [
        await make_commitment(client, admin, action_id=action["id"], amount=a, year=2020 + i % 7)
        for i, a in enumerate(amounts)
    ]


async def _walk(client: httpx.AsyncClient, params: dict[str, str | int]) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    cursor = None
    for _ in range(50):
        page = await client.get(
            "/v1/commitments", params=params | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= int(params["limit"])
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("sort", ["-amount,year", "amount", "year,-amount", "-created_at"])
async def test_walking_pages_yields_every_row_once_in_order(
    client: httpx.AsyncClient, twelve: list[dict[str, str]], sort: str
) -> None:
    action_id = twelve[0]["action_id"]
    rows = await _walk(client, {"limit": 5, "sort": sort, "action_id": action_id})
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in twelve)
    keys = [k for k in sort.split(",")]

    def key(row: dict[str, str]) -> tuple[object, ...]:
        out: list[object] = []
        for k in keys:
            name = k.lstrip("-")
            value: object = Decimal(row[name]) if name == "amount" else row[name]
            out.append(value)
        return tuple(out)

    for a, b in itertools.pairwise(rows):
        for k, va, vb in zip(keys, key(a), key(b), strict=True):
            if va != vb:
                assert (va > vb) if k.startswith("-") else (va < vb)  # type: ignore[operator]
                break


async def test_cursor_reused_with_other_filters_is_400(
    client: httpx.AsyncClient, twelve: list[dict[str, str]]
) -> None:
    first = await client.get("/v1/commitments", params={"limit": 1, "year": 2020})
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    response = await client.get(
        "/v1/commitments", params={"limit": 1, "year": 2021, "cursor": cursor}
    )
    assert pointers(assert_problem(response, 400, "INVALID_PARAMETER")) == ["cursor"]
    other_sort = await client.get(
        "/v1/commitments", params={"limit": 1, "year": 2020, "cursor": cursor, "sort": "amount"}
    )
    assert_problem(other_sort, 400)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        base64.urlsafe_b64encode(b'{"k": [1], "f": "x"}').decode(),
        base64.urlsafe_b64encode(
            json.dumps({"k": ["not a date", "x"], "f": "x"}).encode()
        ).decode(),
        "A" * 3000,
    ],
)
async def test_tampered_cursor_is_400(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/v1/commitments", params={"cursor": cursor})
    assert_problem(response, 400)


@pytest.mark.parametrize("limit", ["0", "-1", "501", "99999999999999999999", "ten"])
async def test_bad_limit_is_400_naming_limit(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/v1/commitments", params={"limit": limit})
    assert pointers(assert_problem(response, 400, "INVALID_PARAMETER")) == ["limit"]


async def test_unknown_query_parameter_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/chantiers", params={"colour": "red"})
    assert pointers(assert_problem(response, 400, "INVALID_PARAMETER")) == ["colour"]


async def test_unknown_sort_field_is_400(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/commitments", params={"sort": "label"}), 400)
    assert_problem(await client.get("/v1/commitments", params={"sort": "amount,amount"}), 400)


async def test_repeated_filter_means_or(
    client: httpx.AsyncClient, twelve: list[dict[str, str]]
) -> None:
    response = await client.get(
        "/v1/commitments", params=[("year", "2020"), ("year", "2021"), ("limit", "500")]
    )
    years = {c["year"] for c in response.json()["items"]}
    assert years == {2020, 2021}


async def test_unknown_enum_value_in_filter_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/commitments", params={"status": "paid"})
    assert pointers(assert_problem(response, 400)) == ["status"]


async def test_sql_injection_in_filters_is_harmless(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/commitments", params={"external_ref": "AMP' OR '1'='1"})
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert_problem(await client.get("/v1/partners", params={"code": "AMP' OR '1'='1"}), 400)
