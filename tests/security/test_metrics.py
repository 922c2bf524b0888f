"""/metrics: behind its own Basic credentials when set, closed when reads need a key, money in
cents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import AuthSettings, MetricsSettings, Settings
from app.main import attach_database, create_app
from tests.conftest import Session, assert_problem
from tests.factories import make_action, make_commitment

PASSWORD = "metrics-password-for-tests"
RIGHT = httpx.BasicAuth("metrics", PASSWORD)


@asynccontextmanager
async def serving(
    settings: Settings, engine: AsyncEngine, sessionmaker: Session, **update: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=update))
    attach_database(app, engine, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def sample(text_: str, name: str, status: str) -> str:
    found = re.search(rf'^{name}\{{status="{status}"\}} (\S+)$', text_, re.M)
    assert found, f"{name}{{status={status!r}}} missing"
    return found.group(1)


async def test_money_is_exported_as_exact_integer_cents(
    client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    action = await make_action(client, admin)
    # 79,999,999,999,999.01 euros in all: as a float of euros it would read …999.02.
    for _ in range(7):
        await make_commitment(
            client, admin, action_id=action["id"], amount="9999999999999.99", status="committed"
        )
    await make_commitment(
        client, admin, action_id=action["id"], amount="9999999999999.08", status="committed",
        disbursed_amount="0.10",
    )  # fmt: skip
    await make_commitment(client, admin, action_id=action["id"], amount="0.20", status="planned")
    body = (await client.get("/metrics")).text
    sums = await connection.execute(
        text("SELECT status, sum(amount), sum(disbursed_amount) FROM commitments GROUP BY status")
    )
    for status, amount, disbursed in sums:
        assert Decimal(sample(body, "relance_commitments_amount_cents", status)) == amount * 100
        paid = sample(body, "relance_commitments_disbursed_cents", status)
        assert Decimal(paid) == disbursed * 100
    committed = Decimal(sample(body, "relance_commitments_amount_cents", "committed"))
    assert committed == Decimal("7999999999999901")
    assert Decimal(repr(float(committed / 100))) != committed / 100  # what euros would lose
    assert "_euros" not in body


async def test_metrics_need_their_credentials_when_a_password_is_set(
    settings: Settings, engine: AsyncEngine, sessionmaker: Session, admin: dict[str, str]
) -> None:
    metrics = MetricsSettings(password=SecretStr(PASSWORD))
    async with serving(settings, engine, sessionmaker, metrics=metrics) as client:
        refused = [
            await client.get("/metrics"),
            await client.get("/metrics", auth=httpx.BasicAuth("metrics", PASSWORD + "x")),
            await client.get("/metrics", auth=httpx.BasicAuth("other", PASSWORD)),
            await client.get("/metrics", headers={"Authorization": "Basic !!not base64"}),
            await client.get("/metrics", headers={"Authorization": f"Bearer {PASSWORD}"}),
            await client.get("/metrics", headers=admin),  # an API key is not the credential
        ]
        right = await client.get("/metrics", auth=RIGHT)
        still_public = await client.get("/v1/priorities")
    for answer in refused:
        assert_problem(answer, 401, "UNAUTHORIZED")
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="metrics"'
        assert "relance_" not in answer.text
    assert right.status_code == 200
    assert "relance_commitments_amount_cents" in right.text
    assert still_public.status_code == 200


async def test_metrics_are_closed_when_reads_require_a_key_and_no_password_is_set(
    settings: Settings, engine: AsyncEngine, sessionmaker: Session, admin: dict[str, str]
) -> None:
    private = AuthSettings(read_requires_key=True)
    async with serving(settings, engine, sessionmaker, auth=private) as client:
        anonymous = await client.get("/metrics")
        with_key = await client.get("/metrics", headers=admin)
    body = assert_problem(anonymous, 403, "FORBIDDEN")
    assert "METRICS__PASSWORD" in body["detail"]
    assert_problem(with_key, 403, "FORBIDDEN")
    metrics = MetricsSettings(password=SecretStr(PASSWORD))
    async with serving(settings, engine, sessionmaker, auth=private, metrics=metrics) as client:
        right = await client.get("/metrics", auth=RIGHT)
    assert right.status_code == 200
