"""Probes, metrics, request ids, logs, CORS and production settings."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.main import UnsafeSettings, create_app
from app.ops.logs import JsonFormatter, error_entries
from tests.conftest import assert_problem
from tests.factories import make_commitment


async def test_healthz_answers_without_the_database(settings: Settings) -> None:
    app = create_app(settings)  # no engine at all: the lifespan has not run
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_head_revision(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["revision"]


async def test_metrics_count_requests_by_route_template_and_show_pool_and_business(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await make_commitment(client, admin, amount="12.34", status="committed")
    created = await client.get("/v1/commitments", params={"limit": 1})
    one = created.json()["items"][0]["id"]
    await client.get(f"/v1/commitments/{one}")
    text = (await client.get("/metrics")).text
    assert (
        'relance_http_requests_total{method="GET",route="/v1/commitments/{commitment_id}",status="200"}'
        in text
    )
    assert f"/v1/commitments/{one}" not in text  # templates, not raw paths
    assert "relance_http_request_duration_seconds_bucket" in text
    assert "relance_db_pool_size" in text
    assert "relance_db_pool_checked_out" in text
    assert 'relance_commitments{status="committed"}' in text
    assert 'relance_commitments_amount_cents{status="committed"}' in text


async def test_request_id_is_echoed_or_generated_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="relance.access"):
        given = await client.get("/v1/chantiers", headers={"X-Request-ID": "abc-123"})
        made = await client.get("/v1/chantiers", headers={"X-Request-ID": "bad id; drop"})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    first = next(line for line in lines if line.get("request_id") == "abc-123")
    assert first["route"] == "/v1/chantiers"
    assert first["status"] == 200
    assert first["method"] == "GET"
    assert first["duration_ms"] >= 0


async def test_access_log_names_the_key_but_never_shows_it(
    client: httpx.AsyncClient, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    token = admin["Authorization"].removeprefix("Bearer ")
    with caplog.at_level(logging.INFO):
        await client.post(
            "/v1/partners", json={"code": "LOGT", "name": "n", "kind": "other"}, headers=admin
        )
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert all(token not in line for line in formatted)
    access = [json.loads(line) for line in formatted if '"relance.access"' in line]
    assert [line["key_name"] for line in access] == ["test admin"]


async def test_error_responses_carry_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere", headers={"X-Request-ID": "req-404"})
    assert_problem(response, 404)
    assert response.headers["X-Request-ID"] == "req-404"


@pytest.mark.parametrize(
    "unsafe",
    [
        {"database_url": None},
        {"cors_origins": ["*"], "cors_allow_credentials": True},
        {"cors_origins": ["http://dashboard.example.org"]},
    ],
)
def test_production_mode_refuses_unsafe_settings(
    settings: Settings, unsafe: dict[str, object]
) -> None:
    bad = settings.model_copy(update={"env": "production", **unsafe})
    with pytest.raises(UnsafeSettings):
        create_app(bad)


def test_production_mode_accepts_safe_settings(settings: Settings) -> None:
    good = settings.model_copy(
        update={"env": "production", "cors_origins": ["https://dashboard.example.org"]}
    )
    assert create_app(good).title == "Relance API"


def test_database_url_is_never_in_the_settings_repr() -> None:
    settings = Settings(database_url=SecretStr("postgresql://u:hunter2@db/x"))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_cors_origins_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


async def test_cors_allows_listed_origins_only(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://dash.example"]}))
    transport = httpx.ASGITransport(app=app)
    preflight = {"Access-Control-Request-Method": "PATCH"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.options(
            "/v1/chantiers", headers=preflight | {"Origin": "https://dash.example"}
        )
        other = await client.options(
            "/v1/chantiers", headers=preflight | {"Origin": "https://evil.example"}
        )
    assert ok.headers["access-control-allow-origin"] == "https://dash.example"
    assert "access-control-allow-origin" not in other.headers


def test_database_url_accepts_both_schemes() -> None:
    for url in ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db", "postgres://u@h/db"):
        assert (
            Settings(database_url=SecretStr(url)).sqlalchemy_url() == "postgresql+asyncpg://u@h/db"
        )


def test_error_entries_finds_the_error_lines_the_formatter_writes() -> None:
    """The load runs count server errors from the JSON log: whatever the encoder's spacing."""
    records = [
        logging.makeLogRecord({"name": "relance.errors", "levelno": logging.ERROR,
                               "levelname": "ERROR", "msg": "unhandled error on GET /x"}),
        logging.makeLogRecord({"name": "relance.access", "levelno": logging.INFO,
                               "levelname": "INFO", "msg": "GET /x 500"}),
    ]  # fmt: skip
    text = "\n".join([*(JsonFormatter().format(r) for r in records), "not json", "[1]"])
    assert [e["message"] for e in error_entries(text)] == ["unhandled error on GET /x"]


def test_a_log_line_is_never_lost_to_what_it_holds() -> None:
    """orjson refuses a lone surrogate (and, by default, keys that are not strings): the line
    is still written, as JSON a collector reads."""
    record = logging.makeLogRecord(
        {"name": "relance.access", "msg": "GET /x 200", "path": "/x\udcff", "counts": {1: 2}}
    )
    line = json.loads(JsonFormatter().format(record))
    assert (line["path"], line["counts"]) == ("/x\udcff", {"1": 2})
    plain = json.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "m", "n": {3: 4}})))
    assert plain["n"] == {"3": 4}
