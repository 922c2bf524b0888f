"""The load run's client: one connection, a mix of reads and writes, a ledger of what the
API acknowledged (used by bench.load)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx

from bench.load_check import Ledger, Sample, Versioned, post_label, version_of

CLIENT_TIMEOUT = 10.0  # seconds; no request may take longer
BACKOFF_CAP = 0.5  # a client honours Retry-After, capped so that it notices recovery soon
WRITE_SHARE = 0.2
READS = {"list": 30, "get": 30, "aggregates": 15, "summary": 10, "changes": 15}
WRITES = {"post": 30, "patch": 30, "put": 30, "batch": 10}
BATCH_ITEMS = 50
PUT_REFS = 300  # shared by all clients: concurrent upserts of the same rows
PATCH_ROWS = 100  # shared too: PATCHes race and some get 412
INSTRUMENTS = ("grant", "loan", "equity", "guarantee")


def problem_reason(problem: dict[str, Any]) -> str:
    """The problem's reason, and its first error's pointer and detail when it has errors."""
    errors = problem.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    where = first.get("pointer") or first.get("parameter") or ""
    return f"{problem.get('reason')} {where} {first.get('detail', '')}".strip()


@dataclass(frozen=True)
class Fixtures:
    admin: str
    partner: str  # bound to BDT
    bdt: uuid.UUID
    actions: list[str]
    commitments: list[str]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class RunState(Protocol):
    """What a client needs of the run it belongs to (bench.load.Run)."""

    base_url: str
    fixtures: Fixtures
    ledger: Ledger
    started: float
    deadline: float

    def budget_left(self) -> bool: ...


class LoadClient:
    """One client: its own connection, looping over weighted operations until the deadline."""

    def __init__(self, index: int, run: RunState) -> None:
        self.index = index
        self.run = run
        self.rng = random.Random(index)
        self.cursor: str | None = None
        self.count = 0
        self.http = httpx.AsyncClient(
            base_url=run.base_url,
            timeout=CLIENT_TIMEOUT,
            headers={"X-Forwarded-For": f"10.0.{index // 250}.{index % 250 + 1}"},
        )

    async def call(
        self,
        kind: str,
        method: str,
        url: str,
        expected: frozenset[int] = frozenset({200}),
        **kwargs: Any,
    ) -> httpx.Response | None:
        run = self.run
        start = time.perf_counter() - run.started
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            end = time.perf_counter() - run.started
            run.ledger.samples.append(Sample(kind, start, end, None, False, type(exc).__name__))
            await asyncio.sleep(BACKOFF_CAP)
            return None
        end = time.perf_counter() - run.started
        status = response.status_code
        reason, problem_503 = "", False
        if status >= 400:
            is_problem = response.headers.get("content-type") == "application/problem+json"
            reason = problem_reason(response.json()) if is_problem else response.text[:80]
            problem_503 = status == 503 and is_problem and "retry-after" in response.headers
        run.ledger.samples.append(
            Sample(kind, start, end, status, status in expected, reason, problem_503)
        )
        if status in (409, 503) and "retry-after" in response.headers:
            await asyncio.sleep(min(BACKOFF_CAP, float(response.headers["retry-after"])))
        return response

    def more(self) -> bool:
        return time.perf_counter() < self.run.deadline and self.run.budget_left()

    async def loop(self) -> None:
        try:
            while self.more():
                if self.rng.random() < WRITE_SHARE:
                    op = self.rng.choices(list(WRITES), list(WRITES.values()))[0]
                else:
                    op = self.rng.choices(list(READS), list(READS.values()))[0]
                await getattr(self, op)()
        finally:
            await self.http.aclose()

    # -- reads -------------------------------------------------------------------------------

    async def list(self) -> None:
        params: dict[str, Any] = {"year": self.rng.randint(2020, 2026), "limit": 50}
        if self.rng.random() < 0.5:
            params["status"] = "committed"
        if self.rng.random() < 0.5:
            params["partner_id"] = str(self.run.fixtures.bdt)
        if self.rng.random() < 0.3:
            params["sort"] = "-amount"
        await self.call("list", "GET", "/v1/commitments", params=params)

    async def get(self) -> None:
        ids = self.run.fixtures.commitments
        await self.call("get", "GET", f"/v1/commitments/{self.rng.choice(ids)}")

    async def aggregates(self) -> None:
        params = {"drilldown": "chantier,year"}
        await self.call("aggregates", "GET", "/v1/aggregates/commitments", params=params)

    async def summary(self) -> None:
        await self.call("summary", "GET", "/v1/summary")

    async def changes(self) -> None:
        params: dict[str, Any] = {"resource": "commitments", "limit": 100}
        if self.cursor is not None:
            params["cursor"] = self.cursor
        response = await self.call("changes", "GET", "/v1/changes", params=params)
        if response is not None and response.status_code == 200:
            self.cursor = response.json()["next_cursor"] or self.cursor

    # -- writes ------------------------------------------------------------------------------

    def _item(self) -> dict[str, Any]:
        return {
            "action_id": self.rng.choice(self.run.fixtures.actions),
            "year": self.rng.randint(2020, 2026),
            "amount": money(self.rng.randint(100_000, 500_000_000)),
            "instrument": self.rng.choice(INSTRUMENTS),
            "status": "committed",
        }

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def post(self) -> None:
        """Create, retrying with the same Idempotency-Key until answered (or the run ends)."""
        key = str(uuid.uuid4())
        body = {**self._item(), "partner_id": str(self.run.fixtures.bdt), "label": post_label(key)}
        headers = self._auth(self.run.fixtures.partner) | {"Idempotency-Key": key}
        self.run.ledger.post_keys.add(key)
        for _ in range(10):
            response = await self.call(
                "post", "POST", "/v1/commitments", frozenset({201}), json=body, headers=headers
            )
            if response is not None and response.status_code == 201:
                created = response.json()
                self.run.ledger.posts[key] = (uuid.UUID(created["id"]), Decimal(created["amount"]))
                self.run.fixtures.commitments.append(created["id"])
                return
            retry = response is None or response.status_code in (409, 503)
            if not retry or not self.more():
                return

    async def patch(self) -> None:
        """Read the ETag, change the amount with If-Match; on 412 read again (at most 5 times)."""
        target = self.rng.choice(self.run.fixtures.commitments[:PATCH_ROWS])
        url = f"/v1/commitments/{target}"
        headers = self._auth(self.run.fixtures.admin)
        for _ in range(5):
            current = await self.call("patch:get", "GET", url)
            if current is None or current.status_code != 200:
                return
            read = current.json()
            disbursed = int(Decimal(read["disbursed_amount"]) * 100)
            amount = money(disbursed + self.rng.randint(100, 100_000_000))
            # A new amount with the schedule it needs: all of it paid in the commitment's year
            # (a demo commitment's schedule spreads it over several years).
            line = {"year": read["year"], "amount": amount}
            body: dict[str, Any] = {
                "amount": amount,
                "schedule": {"lines": [line], "reason": "load"},
            }
            response = await self.call(
                "patch",
                "PATCH",
                url,
                frozenset({200, 412}),
                json=body,
                headers=headers | {"If-Match": current.headers["etag"]},
            )
            if response is None or response.status_code != 412:
                break
        if response is not None and response.status_code == 200:
            self.run.ledger.versioned.append(
                Versioned(
                    "patch",
                    uuid.UUID(target),
                    version_of(response.headers["etag"]),
                    Decimal(body["amount"]),
                )
            )

    async def put(self) -> None:
        fixtures = self.run.fixtures
        ref = f"LOAD-PUT-{self.rng.randrange(PUT_REFS):04d}"
        body = self._item()
        response = await self.call(
            "put",
            "PUT",
            f"/v1/partners/{fixtures.bdt}/commitments/{ref}",
            frozenset({200, 201}),
            json=body,
            headers=self._auth(fixtures.partner),
        )
        if response is not None and response.status_code in (200, 201):
            stored = response.json()
            self.run.ledger.versioned.append(
                Versioned(
                    "put",
                    uuid.UUID(stored["id"]),
                    version_of(response.headers["etag"]),
                    Decimal(body["amount"]),
                )
            )

    async def batch(self) -> None:
        """50 upserts of this client's own references (so that their order is this client's)."""
        refs = self.rng.sample(range(3 * BATCH_ITEMS), BATCH_ITEMS)
        items = [{**self._item(), "external_ref": f"LOAD-B{self.index:03d}-{k:03d}"} for k in refs]
        fixtures = self.run.fixtures
        response = await self.call(
            "batch",
            "PUT",
            f"/v1/partners/{fixtures.bdt}/commitments",
            json={"items": items},
            headers=self._auth(fixtures.partner),
        )
        acked = response is not None and response.status_code == 200
        for item in items:
            attempts = self.run.ledger.batch_attempts[item["external_ref"]]
            attempts.append((Decimal(item["amount"]), acked))
