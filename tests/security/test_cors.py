"""CORS origins are parsed, not searched for "localhost": what production accepts and refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.main import UnsafeSettings, create_app

LOOKALIKES = ["http://localhost.evil.com", "https://localhost.evil.com"]
NOT_ORIGINS = [
    "http://evil.com#localhost",
    "https://dash.example/",
    "https://dash.example/app",
    "https://dash.example?x=1",
    "https://user@dash.example",
    "https://DASH.example",
    "ftp://dash.example",
    "https://",
]
LOOPBACK = ["http://localhost:3000", "https://localhost", "https://127.0.0.1:8443", "http://[::1]"]


def production(settings: Settings, origins: list[str], credentials: bool = True) -> Settings:
    return settings.model_copy(
        update={"env": "production", "cors_origins": origins, "cors_allow_credentials": credentials}
    )


@pytest.mark.parametrize("origin", LOOKALIKES)
def test_a_host_that_merely_contains_localhost_is_judged_as_the_host_it_is(
    settings: Settings, origin: str
) -> None:
    problems = production(settings, [origin]).production_problems()
    if origin.startswith("http://"):  # refused for being plain http, as any other site would be
        assert problems == ["CORS_ORIGINS lists a plain-http origin"]
    else:  # a real https site: allowed, it is not this machine
        assert problems == []


@pytest.mark.parametrize("origin", ["null", *NOT_ORIGINS])
def test_production_refuses_null_and_anything_that_is_not_an_origin(
    settings: Settings, origin: str
) -> None:
    with pytest.raises(UnsafeSettings, match="CORS_ORIGINS"):
        create_app(production(settings, [origin]))


@pytest.mark.parametrize("origin", LOOPBACK)
def test_production_refuses_localhost_and_loopback_origins(settings: Settings, origin: str) -> None:
    problems = production(settings, [origin]).production_problems()
    assert "CORS_ORIGINS lists localhost or a loopback address" in problems


@pytest.mark.parametrize("origin", ["null", *NOT_ORIGINS])
def test_the_variable_refuses_null_and_non_origins_in_any_environment(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", f"https://ok.example,{origin}")
    with pytest.raises(ValidationError, match="cors_origins"):
        Settings()


def test_production_accepts_well_formed_https_origins_with_credentials(settings: Settings) -> None:
    good = production(settings, ["https://dash.example", "https://admin.example:8443"])
    assert good.production_problems() == []
    assert create_app(good).title == "Relance API"


def test_development_still_accepts_a_localhost_dev_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://localhost:5173")
    assert Settings().cors_origins == ["http://localhost:5173"]
