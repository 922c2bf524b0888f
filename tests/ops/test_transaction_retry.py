"""A write whose transaction PostgreSQL aborts for a conflict with another runs again: a real
deadlock with the request as its victim, and the step's rules on a plain ASGI app."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from app.errors import TRANSACTION_CONFLICT
from app.ops.retry import TransactionRetryMiddleware
from tests.conftest import LiveCount
from tests.database import plain, wait_for_lock_waits
from tests.factories import make_action, make_commitment, partner_id


def retries(sqlstate: str) -> float:
    counted = REGISTRY.get_sample_value("relance_transaction_retries_total", {"sqlstate": sqlstate})
    return counted or 0.0


async def test_a_post_chosen_as_deadlock_victim_runs_again_and_is_created_once(
    live_client: httpx.AsyncClient,
    live_admin: dict[str, str],
    live_count: LiveCount,
    database_url: str,
) -> None:
    """The POST inserts its commitment, then waits for the roll-up cell another transaction
    holds; that transaction then inserts the same reference and waits for the POST. PostgreSQL
    aborts the POST's transaction (it waited first); the POST runs again and answers 201."""
    action = (await make_action(live_client, live_admin))["id"]
    bdt = await partner_id(live_client, "BDT")
    await make_commitment(live_client, live_admin, action_id=action, partner_id=bdt)  # the cell
    body = {"action_id": action, "partner_id": bdt, "year": 2024, "amount": "250.00",
            "instrument": "loan", "external_ref": "RETRY-1"}  # fmt: skip
    headers = live_admin | {"Idempotency-Key": "deadlock-victim"}
    before = retries("40P01")
    other = await asyncpg.connect(plain(database_url))
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "SELECT 1 FROM commitment_rollups r JOIN actions a"
            " ON (a.programme_id, a.chantier_id) = (r.programme_id, r.chantier_id)"
            " WHERE a.id = $1 AND r.partner_id = $2 AND r.year = 2024 FOR UPDATE OF r",
            action,
            bdt,
        )
        posted = asyncio.create_task(
            live_client.post("/v1/commitments", json=body, headers=headers)
        )
        await wait_for_lock_waits(database_url)  # the POST's row is in, its roll-up cell waits
        # Closes the cycle: this insert waits for the POST's uncommitted reference until
        # PostgreSQL aborts the POST's transaction, then goes through; rolled back at once.
        await other.execute(
            "INSERT INTO commitments (action_id, partner_id, external_ref, year, amount,"
            " instrument, version) VALUES ($1, $2, 'RETRY-1', 2024, 1, 'loan', 1)",
            action,
            bdt,
        )
        await tx.rollback()
        response = await posted
    finally:
        await other.close()
    assert response.status_code == 201, response.text
    assert retries("40P01") == before + 1
    assert await live_count("commitments WHERE external_ref = 'RETRY-1'") == 1
    replayed = await live_client.post("/v1/commitments", json=body, headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == response.json()["id"]


class Route:
    """A stand-in route: answers `conflicts` conflicts (marked as the error handler marks them),
    then 201; records every body it read."""

    def __init__(self, conflicts: int, *, mark_after_start: bool = False) -> None:
        self.conflicts = conflicts
        self.mark_after_start = mark_after_start
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        conflict = len(self.bodies) <= self.conflicts
        status = 503 if conflict else 201
        if conflict and not self.mark_after_start:
            scope.setdefault("state", {})[TRANSACTION_CONFLICT] = "40001"
        await send({"type": "http.response.start", "status": status, "headers": []})
        if conflict and self.mark_after_start:
            scope.setdefault("state", {})[TRANSACTION_CONFLICT] = "40001"
        await send({"type": "http.response.body", "body": json.dumps(len(self.bodies)).encode()})


async def call(route: Route, method: str = "POST") -> httpx.Response:
    app = TransactionRetryMiddleware(route, attempts=3, pause_seconds=0.001)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, "/", content=b'{"amount": "1.00"}')


async def test_the_rerun_reads_the_same_body_and_only_its_answer_is_sent() -> None:
    route = Route(conflicts=2)
    before = retries("40001")
    response = await call(route)
    assert (response.status_code, response.json()) == (201, 3)  # the third attempt's answer
    assert route.bodies == [b'{"amount": "1.00"}'] * 3
    assert retries("40001") == before + 2


async def test_past_the_last_attempt_the_conflict_is_answered() -> None:
    route = Route(conflicts=5)
    response = await call(route)
    assert (response.status_code, response.json()) == (503, 3)
    assert len(route.bodies) == 3


async def test_reads_and_answers_already_begun_are_never_run_again() -> None:
    for route, method in ((Route(conflicts=1), "GET"), (Route(1, mark_after_start=True), "POST")):
        response = await call(route, method)
        assert (response.status_code, len(route.bodies)) == (503, 1), method


async def test_a_body_first_read_by_a_rerun_is_kept_for_the_next() -> None:
    seen: list[bytes] = []
    attempts = 0

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal attempts
        attempts += 1
        if attempts > 1:  # the first attempt conflicts before it reads the body
            seen.append((await receive()).get("body", b""))
        if attempts < 3:
            scope["state"][TRANSACTION_CONFLICT] = "40P01"
        await send({"type": "http.response.start", "status": 503 if attempts < 3 else 200})
        await send({"type": "http.response.body", "body": b""})

    app: Any = TransactionRetryMiddleware(route, attempts=3, pause_seconds=0.001)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await asyncio.wait_for(client.post("/", content=b"payload"), 10)
    assert response.status_code == 200
    assert seen == [b"payload", b"payload"]


async def test_no_rerun_begins_past_the_time_budget(caplog: pytest.LogCaptureFixture) -> None:
    route = Route(conflicts=5)
    app = TransactionRetryMiddleware(route, attempts=4, pause_seconds=0.001, budget_seconds=0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.INFO, logger="relance.retry"):
            response = await client.post("/", content=b"{}")
    # No time to spare: the first attempt is the last one, and its conflict is answered.
    assert (response.status_code, len(route.bodies)) == (503, 1)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warned] == [
        "transaction rolled back for a conflict (40001) on its last attempt: answered 503"
    ]


def test_the_step_is_the_innermost_of_the_pipeline(app: FastAPI) -> None:
    innermost: Any = app.user_middleware[-1].cls  # the first one added
    assert innermost is TransactionRetryMiddleware
