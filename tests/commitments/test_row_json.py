"""Commitment reads answer rows written as JSON (app.common.rows): the same JSON, key for key
and in the same order, as CommitmentRead and Page[CommitmentRead] make of the ORM objects; from
SQLAlchemy's rows inside a transaction and from asyncpg's on the driver (app.common.driver)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select

from app.commitments.schemas import CommitmentRead
from app.common.fields import Money
from app.common.pagination import Page
from app.common.rows import RowJson
from app.models import Commitment
from tests.conftest import Session
from tests.factories import make_action, make_commitment

VARIETY: list[dict[str, Any]] = [
    {"amount": "0.01"},
    {"amount": "1250000.5", "disbursed_amount": "0.50", "signed_on": "2024-03-15"},
    {"amount": "9999999999999.99", "status": "committed", "instrument": "grant"},
    {
        "amount": "10",
        "label": "Prêt « GPI » — tranche 2024, 10 % d'avance",
        "beneficiary_name": "Ville de Marseille",
        "beneficiary_siret": "21130055300016",
        "decision_ref": "DEL-2024-0315",
        "eu_notified": True,
        "external_ref": "BDT-\u00e9-1",
    },
    {"amount": "42.00", "beneficiary_rna": "W133012345", "status": "cancelled"},
]


@dataclass(frozen=True)
class Reading:
    client: httpx.AsyncClient
    admin: dict[str, str]
    sessionmaker: Session
    on_driver: list[str]  # the statements run on the driver
    driver: bool  # whether reads are expected there

    def took_its_path(self) -> bool:
        return bool(self.on_driver) == self.driver


@pytest.fixture(params=["in a transaction", "on the driver"])
def reading(request: pytest.FixtureRequest) -> Reading:
    """The test app (its sessions inside the test's transaction: SQLAlchemy's path), or an app
    that commits (reads open no transaction: the driver's path)."""
    on_driver = request.getfixturevalue("on_driver")
    if request.param == "on the driver":
        app = request.getfixturevalue("live_app")
        live = request.getfixturevalue("live_client"), request.getfixturevalue("live_admin")
        return Reading(*live, app.state.sessionmaker, on_driver, driver=True)
    test = request.getfixturevalue("client"), request.getfixturevalue("admin")
    return Reading(*test, request.getfixturevalue("sessionmaker"), on_driver, driver=False)


def ordered(body: bytes) -> list[tuple[str, Any]]:
    return list(json.loads(body, object_pairs_hook=list))


async def test_get_and_list_answer_the_read_model_json_in_its_order(reading: Reading) -> None:
    client, admin, sessionmaker = reading.client, reading.admin, reading.sessionmaker
    action = await make_action(client, admin)
    made = [await make_commitment(client, admin, action_id=action["id"], **v) for v in VARIETY]
    async with sessionmaker() as session:
        stmt = select(Commitment).where(Commitment.action_id == uuid.UUID(action["id"]))
        objects = {str(c.id): c for c in (await session.scalars(stmt)).all()}
    for commitment in made:
        response = await client.get(f"/v1/commitments/{commitment['id']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        expected = CommitmentRead.model_validate(objects[commitment["id"]]).model_dump_json()
        assert ordered(response.content) == ordered(expected.encode())
        assert response.headers["ETag"] == commitment["etag"]

    # Two pages of the list: items and the cursor as Page[CommitmentRead] writes them.
    query = {"action_id": action["id"], "limit": 3}
    first = await client.get("/v1/commitments", params=query)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    second = await client.get("/v1/commitments", params=query | {"cursor": cursor})
    listed = [item["id"] for item in first.json()["items"] + second.json()["items"]]
    assert sorted(listed) == sorted(objects)
    for response, ids, next_cursor in (
        (first, listed[:3], cursor),
        (second, listed[3:], None),
    ):
        page = Page[CommitmentRead].of([objects[i] for i in ids], next_cursor)
        assert ordered(response.content) == ordered(page.model_dump_json().encode())
    assert reading.took_its_path()


async def test_not_modified_and_missing_answer_as_before(reading: Reading) -> None:
    client, admin = reading.client, reading.admin
    commitment = await make_commitment(client, admin)
    path = f"/v1/commitments/{commitment['id']}"
    same = await client.get(path, headers={"If-None-Match": commitment["etag"]})
    assert (same.status_code, same.headers["ETag"], same.content) == (304, commitment["etag"], b"")
    weak = await client.get(path, headers={"If-None-Match": f'W/{commitment["etag"]}, "x"'})
    assert weak.status_code == 304
    other = await client.get(path, headers={"If-None-Match": '"another-1"'})
    assert other.status_code == 200
    missing = await client.get(f"/v1/commitments/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert reading.took_its_path()


def test_a_decimal_that_is_not_money_is_refused() -> None:
    class Rate(BaseModel):
        id: uuid.UUID
        etag: str
        amount: Money
        rate: Decimal

    with pytest.raises(TypeError, match="rate"):
        RowJson(Rate)
    columns = RowJson(CommitmentRead).columns
    assert columns[:4] == ("id", "created_at", "updated_at", "version")  # etag's place
    assert len(columns) == len(CommitmentRead.model_fields)
