"""What a load run observed, and the checks made on it: statuses, latencies, stored writes.

The load clients (bench/load.py) append `Sample`s and acknowledged writes to a `Ledger`; after
the run, `verify_writes` reads the database with plain SQL and lists every broken promise.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.common import percentile

READ_KINDS = ("list", "get", "aggregates", "summary", "changes")
WRITE_KINDS = ("post", "patch:get", "patch", "put", "batch")


@dataclass(frozen=True)
class Sample:
    kind: str
    start: float  # seconds since the run started
    end: float
    status: int | None  # None: no HTTP answer (timeout, connection error)
    expected: bool  # a status this request may legitimately get (201, 200, 412 on PATCH…)
    error: str = ""  # the transport error's name, or the problem's reason
    problem_503: bool = False  # 503 served as problem+json with a Retry-After

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Versioned:
    """An acknowledged PATCH or PUT: the row, the version the answer's ETag names, the amount."""

    kind: str
    resource_id: uuid.UUID
    version: int
    amount: Decimal


@dataclass
class Ledger:
    samples: list[Sample] = field(default_factory=list)
    # POST: every Idempotency-Key tried (its label), and those acknowledged -> (id, amount).
    post_keys: set[str] = field(default_factory=set)
    posts: dict[str, tuple[uuid.UUID, Decimal]] = field(default_factory=dict)
    versioned: list[Versioned] = field(default_factory=list)
    # Batches: refs are owned by one client each, so attempts on a ref are sequential;
    # ref -> [(amount, acknowledged)] in the order they were sent.
    batch_attempts: dict[str, list[tuple[Decimal, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def acknowledged_writes(self) -> Counter[str]:
        counts: Counter[str] = Counter({"post": len(self.posts)})
        counts.update(v.kind for v in self.versioned)
        counts["batch item"] = sum(
            ack for attempts in self.batch_attempts.values() for _, ack in attempts
        )
        return counts


def post_label(key: str) -> str:
    return f"load-post {key}"


def version_of(etag: str) -> int:
    return int(etag.strip('"').rsplit("-", 1)[1])


# -- latency ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindStats:
    kind: str
    count: int
    unexpected: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def kind_stats(kind: str, samples: Iterable[Sample]) -> KindStats:
    chosen = list(samples)
    latencies = sorted(s.seconds for s in chosen)
    return KindStats(
        kind,
        len(chosen),
        sum(not s.expected for s in chosen),
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.90) * 1000,
        percentile(latencies, 0.99) * 1000,
        (latencies[-1] if latencies else float("nan")) * 1000,
    )


def stats_table(samples: Sequence[Sample]) -> list[KindStats]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    rows = [kind_stats(k, by_kind[k]) for k in (*READ_KINDS, *WRITE_KINDS) if k in by_kind]
    rows.append(kind_stats("reads", (s for s in samples if s.kind in READ_KINDS)))
    rows.append(kind_stats("writes", (s for s in samples if s.kind not in READ_KINDS)))
    rows.append(kind_stats("all", samples))
    return rows


# -- what the database holds ------------------------------------------------------------------


async def verify_writes(conn: Any, ledger: Ledger, partner_id: uuid.UUID) -> list[str]:
    """Every acknowledged write is stored (or overwritten by a later one); no POST twice."""
    problems: list[str] = []

    labels = sorted(post_label(k) for k in ledger.post_keys)
    rows = await conn.fetch(
        "SELECT label, id, amount FROM commitments WHERE label = ANY($1::text[])", labels
    )
    stored: dict[str, list[tuple[uuid.UUID, Decimal]]] = defaultdict(list)
    for r in rows:
        stored[r["label"]].append((r["id"], r["amount"]))
    for label, found in stored.items():
        if len(found) > 1:
            problems.append(f"POST {label!r} stored {len(found)} times (Idempotency-Key reused)")
    for key, (acked_id, amount) in ledger.posts.items():
        found = stored.get(post_label(key), [])
        if (acked_id, amount) not in found:
            problems.append(f"acknowledged POST {acked_id} ({amount}) is not stored: {found}")

    # PATCH and PUT answer with the version they wrote: the change log must hold that version
    # with that amount, and the row must be at that version or a later one.
    ids = [v.resource_id for v in ledger.versioned]
    history = {
        (r["resource_id"], r["version"]): Decimal(r["amount"])
        for r in await conn.fetch(
            "SELECT resource_id, version, data->>'amount' AS amount FROM changes "
            "WHERE resource = 'commitments' AND op <> 'delete' AND resource_id = ANY($1::uuid[])",
            ids,
        )
    }
    current = {
        r["id"]: r["version"]
        for r in await conn.fetch(
            "SELECT id, version FROM commitments WHERE id = ANY($1::uuid[])", ids
        )
    }
    for v in ledger.versioned:
        logged = history.get((v.resource_id, v.version))
        if logged != v.amount:
            problems.append(
                f"acknowledged {v.kind} {v.resource_id} v{v.version} ({v.amount}) "
                f"not in the change log (found {logged})"
            )
        if current.get(v.resource_id, -1) < v.version:
            problems.append(
                f"acknowledged {v.kind} {v.resource_id} v{v.version}: row now at "
                f"{current.get(v.resource_id)}"
            )

    # Batches: the stored amount is the last acknowledged one, or one sent after it.
    final = {
        r["external_ref"]: r["amount"]
        for r in await conn.fetch(
            "SELECT external_ref, amount FROM commitments "
            "WHERE partner_id = $1 AND external_ref = ANY($2::text[])",
            partner_id,
            list(ledger.batch_attempts),
        )
    }
    for ref, attempts in ledger.batch_attempts.items():
        acked = [i for i, (_, ack) in enumerate(attempts) if ack]
        if not acked:
            continue
        allowed = {amount for amount, _ in attempts[acked[-1] :]}
        if final.get(ref) not in allowed:
            problems.append(
                f"batch item {ref}: stored {final.get(ref)}, last acknowledged "
                f"{attempts[acked[-1]][0]} (later attempts: {sorted(allowed)})"
            )
    return problems
