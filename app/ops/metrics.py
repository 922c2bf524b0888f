"""Prometheus metrics: HTTP traffic by route template, the database pool, business gauges."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

REQUESTS = Counter(
    "relance_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "relance_http_request_duration_seconds",
    "Time to answer, by method and route template.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

TRANSACTION_RETRIES = Counter(
    "relance_transaction_retries_total",
    "Write requests run again because PostgreSQL rolled their transaction back for a conflict "
    "with another (40P01 deadlock, 40001 serialization failure), by SQLSTATE.",
    ["sqlstate"],
)


class PoolCollector(Collector):
    """Reads the SQLAlchemy pool at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool: Any = self.engine.pool
        size = GaugeMetricFamily("relance_db_pool_size", "Connections the pool keeps open.")
        size.add_metric([], float(pool.size()))
        used = GaugeMetricFamily("relance_db_pool_checked_out", "Connections in use.")
        used.add_metric([], float(pool.checkedout()))
        idle = GaugeMetricFamily("relance_db_pool_checked_in", "Idle connections in the pool.")
        idle.add_metric([], float(pool.checkedin()))
        overflow = GaugeMetricFamily(
            "relance_db_pool_overflow", "Connections open beyond the pool size (0 to max)."
        )
        # QueuePool.overflow() counts from -size (-size: nothing open yet; 0: size open), so a
        # quiet pool read -19: only the connections past the size are overflow.
        overflow.add_metric([], float(max(0, pool.overflow())))
        limit = GaugeMetricFamily(
            "relance_db_pool_max_overflow", "Connections the pool may open beyond its size."
        )
        limit.add_metric([], float(getattr(pool, "_max_overflow", 0)))
        yield from (size, used, idle, overflow, limit)


def business_metrics(rows: list[tuple[str, int, int, int]]) -> Iterator[GaugeMetricFamily]:
    """Counts and money by status. Money in integer cents: a sample is a float64, which holds
    every integer up to 2**53 (90 trillion euros in cents) exactly and adds them exactly,
    whereas most amounts in euros with cents (0.10) have no exact float, and PromQL sums of
    them drift off the cent."""
    count = GaugeMetricFamily(
        "relance_commitments", "Commitments stored, by status.", labels=["status"]
    )
    amount = GaugeMetricFamily(
        "relance_commitments_amount_cents",
        "Sum of amounts in euro cents, by status.",
        labels=["status"],
    )
    disbursed = GaugeMetricFamily(
        "relance_commitments_disbursed_cents",
        "Sum of disbursed amounts in euro cents, by status.",
        labels=["status"],
    )
    for status, n, total_cents, paid_cents in rows:
        count.add_metric([status], n)
        amount.add_metric([status], total_cents)
        disbursed.add_metric([status], paid_cents)
    yield from (count, amount, disbursed)


class _Static(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


def render(engine: AsyncEngine, business: list[tuple[str, int, int, int]]) -> bytes:
    """The exposition text: HTTP metrics of every worker process, plus live gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    # The answering process's CPU, memory, open files and start time, and the Python version
    # (with several workers: the one that answered the scrape).
    registry.register(PROCESS_COLLECTOR)
    registry.register(PLATFORM_COLLECTOR)
    registry.register(PoolCollector(engine))
    registry.register(_Static(list(business_metrics(business))))
    return generate_latest(registry)
