"""The bad-input corpus: every hostile or broken request is a 4xx problem+json and the database
is left exactly as it was (row counts and a checksum of every table)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem
from tests.factories import make_commitment

INJECTIONS = ["' OR '1'='1", "1; DROP TABLE commitments; --", "\\x00", "%00", "' UNION SELECT 1--"]


async def _fingerprint(connection: AsyncConnection) -> dict[str, tuple[int, str]]:
    tables = (
        await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
    ).scalars()
    result = {}
    for table in tables:
        row = (
            await connection.execute(
                text(
                    f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                    f'FROM "{table}" t'
                )
            )
        ).one()
        result[table] = (int(row[0]), str(row[1]))
    return result


@pytest.fixture
async def target(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    return await make_commitment(client, admin)


def _cases(target: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    one = f"/v1/commitments/{target['id']}"
    json_headers = {"Content-Type": "application/json"}
    good = {k: target[k] for k in ("action_id", "partner_id", "year", "amount", "instrument")}
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        ("malformed JSON", "POST", "/v1/commitments", {"content": b'{"amount": "1.00",', "headers": json_headers}),
        ("wrong content type", "POST", "/v1/commitments", {"content": b"amount=1.00", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("no content type", "POST", "/v1/commitments", {"content": b"{}", "headers": {"Content-Type": ""}}),
        ("10 MB body", "POST", "/v1/commitments", {"content": b" " * (10 * 1024 * 1024), "headers": json_headers}),
        ("deeply nested JSON", "POST", "/v1/commitments", {"content": b"[" * 100_000 + b"]" * 100_000, "headers": json_headers}),
        ("invalid UTF-8", "POST", "/v1/commitments", {"content": b'{"label": "\xff\xfe"}', "headers": json_headers}),
        ("1 MB string", "POST", "/v1/commitments", {"json": good | {"label": "x" * 1_000_000}}),
        ("JSON array body", "POST", "/v1/commitments", {"json": [good]}),
        ("unknown enum", "POST", "/v1/commitments", {"json": good | {"status": "paid"}}),
        ("year overflow", "POST", "/v1/commitments", {"json": good | {"year": 2**63}}),
        ("year as string", "POST", "/v1/commitments", {"json": good | {"year": "2024"}}),
        ("impossible date", "POST", "/v1/commitments", {"json": good | {"signed_on": "2023-02-30"}}),
        ("amount as number", "PATCH", one, {"json": {"amount": 12.5}}),
        ("amount with exponent", "PATCH", one, {"json": {"amount": "1E+3"}}),
        ("null on required", "PATCH", one, {"json": {"instrument": None}}),
        ("huge limit", "GET", "/v1/commitments?limit=1000000000000000000000", {}),
        ("zero limit", "GET", "/v1/commitments?limit=0", {}),
        ("negative limit", "GET", "/v1/commitments?limit=-5", {}),
        ("tampered cursor", "GET", "/v1/commitments?cursor=eyJrIjpbXX0", {}),
        ("garbage cursor", "GET", "/v1/commitments?cursor=%FF%FE", {}),
        ("year filter overflow", "GET", "/v1/commitments?year=99999999999999999999", {}),
        ("unknown filter", "GET", "/v1/commitments?colour=red", {}),
        ("malformed id in path", "GET", "/v1/commitments/12345", {}),
        ("NUL byte in a text filter", "GET", "/v1/partners", {"params": {"code": "A\x00B"}}),
        ("NUL byte in a body string", "PATCH", one, {"json": {"label": "a\x00b"}}),
        ("bad If-Match", "PATCH", one, {"json": {"label": "x"}, "headers": {"If-Match": '"nope"'}}),
        ("milestone met_on with status scheduled", "POST", f"/v1/actions/{target['action_id']}/milestones", {"json": {"title": "Jalon", "due_on": "2024-01-01", "met_on": "2024-01-02"}}),
        ("milestone met without met_on", "POST", f"/v1/actions/{target['action_id']}/milestones", {"json": {"title": "Jalon", "due_on": "2024-01-01", "status": "met"}}),
        ("late filter not a boolean", "GET", "/v1/actions?late=maybe", {}),
    ]  # fmt: skip
    for value in INJECTIONS:
        cases.append((f"injection in path {value!r}", "GET", f"/v1/commitments/{value}", {}))
        cases.append((f"injection in path delete {value!r}", "DELETE", f"/v1/actions/{value}", {}))
        for name in ("action_id", "partner_id", "chantier_id", "year", "status", "instrument"):
            cases.append(
                (
                    f"injection in {name} {value!r}",
                    "GET",
                    "/v1/commitments",
                    {"params": {name: value}},
                )
            )
        cases.append(
            (f"injection in sort {value!r}", "GET", "/v1/commitments", {"params": {"sort": value}})
        )
    return cases


async def test_bad_input_corpus_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    target: dict[str, Any],
) -> None:
    before = await _fingerprint(connection)
    failures = []
    for name, method, url, kwargs in _cases(target):
        headers = admin | kwargs.pop("headers", {})
        response = await client.request(method, url, headers=headers, **kwargs)
        ok = (
            400 <= response.status_code < 500
            and response.headers.get("content-type", "").startswith("application/problem+json")
            and response.json().get("reason")
        )
        if not ok:
            failures.append((name, response.status_code, response.text[:200]))
    assert not failures, failures
    assert await _fingerprint(connection) == before


async def test_injection_strings_in_text_filters_find_nothing_and_harm_nothing(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    before = await _fingerprint(connection)
    for value in INJECTIONS:
        # Free-text filters take any string and find nothing...
        for url, name in (("/v1/commitments", "external_ref"), ("/v1/actions", "external_id")):
            response = await client.get(url, params={name: value})
            assert response.status_code == 200, (url, name, response.text)
            assert response.json()["items"] == []
        # ...and code filters refuse what no code looks like.
        assert_problem(await client.get("/v1/partners", params={"code": value}), 400)
    assert await _fingerprint(connection) == before


async def test_oversized_streamed_body_is_413(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * (100 * 1024)

    response = await client.post(
        "/v1/commitments",
        content=chunks(),
        headers=admin | {"Content-Type": "application/json"},
    )
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
