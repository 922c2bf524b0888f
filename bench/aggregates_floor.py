"""The aggregate benchmark's two baselines, per endpoint: the floor and the raw GROUP BY.

The **floor** is the same answer produced by the minimum: a plain ASGI app (no framework, no
middleware, no validation, no models) that looks the request up in a table made before the
run, runs the roll-up SQL the API runs (the statement `app.reporting` builds, compiled once)
through a plain asyncpg pool, and answers the rows as JSON. Served by uvicorn as the API is and
measured by the same client, it is what the API's own work (parsing, resolving codes, the
pipeline, models, serialisation) is compared with: API / floor.

The **raw** baseline is the same grouping over `commitments` ⋈ `actions` with asyncpg: what the
roll-up saves.

    uvicorn bench.aggregates_floor:create_floor --factory   (FLOOR_DATABASE_URL, FLOOR_ROUTES)
"""

from __future__ import annotations

import json
import os
import pickle
import urllib.parse
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, FromClause, Select, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import ChantierPriority, Partner
from app.reporting.schemas import AggregateFilters
from app.reporting.service import ReportingService, parse_drilldown, parse_order
from app.reporting.statements import (
    ENTITIES,
    TERRITORIAL,
    CellQuery,
    Cut,
    measures_of,
    page_params,
    page_statement,
    source,
    totals_statement,
    where_cut,
)
from app.reporting.summaries import PROGRAMME_SUMMARY, SUMMARY

Query = tuple[str, list[Any]]  # SQL text with $n parameters, and their values

_MEASURES = """coalesce(sum({amount}) FILTER (WHERE {status} = 'planned'), 0) AS planned,
    coalesce(sum({amount}) FILTER (WHERE {status} = 'committed'), 0) AS committed,
    coalesce(sum({disbursed}) FILTER (WHERE {status} = 'committed'), 0) AS disbursed,
    {count} AS count"""
ROLLUP_MEASURES = _MEASURES.format(
    amount="amount_sum", disbursed="disbursed_sum", status="status", count="sum(commitment_count)"
)
RAW_MEASURES = _MEASURES.format(
    amount="c.amount", disbursed="c.disbursed_amount", status="c.status", count="count(*)"
)
PROGRESS = """
WITH money AS ({money}),
     targets AS (SELECT year, sum(amount) AS target FROM chantier_targets
                 WHERE chantier_id = $1 GROUP BY year),
     physical AS (SELECT coalesce(sum(progress * weight), 0) AS weighted,
                         coalesce(sum(weight), 0) AS weight, count(*) AS actions
                  FROM actions WHERE chantier_id = $1 AND status <> 'cancelled')
SELECT y.year, m.planned, m.committed, m.disbursed, t.target, p.*
FROM chantiers ch JOIN programmes g ON g.id = ch.programme_id
CROSS JOIN generate_series(g.start_year, g.end_year) AS y(year)
LEFT JOIN money m ON m.year = y.year LEFT JOIN targets t ON t.year = y.year
CROSS JOIN physical p WHERE ch.id = $1 ORDER BY y.year"""
FLOOR_PROGRESS = PROGRESS.format(
    money=f"SELECT year, {ROLLUP_MEASURES} FROM commitment_rollups WHERE chantier_id = $1"
    " GROUP BY year"
)
RAW_PROGRESS = PROGRESS.format(
    money=f"SELECT c.year, {RAW_MEASURES} FROM commitments c JOIN actions a ON a.id = c.action_id"
    " WHERE a.chantier_id = $1 GROUP BY c.year"
)
RAW_SUMMARY = f"""
SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, {RAW_MEASURES}
FROM commitments c JOIN actions a ON a.id = c.action_id {{where}}
GROUP BY GROUPING SETS ((), (a.programme_id), (a.chantier_id), (c.partner_id), (c.year))"""


@dataclass(frozen=True)
class Baselines:
    floor: Query
    raw: Query


def _compiled(stmt: Select[Any], params: dict[str, Any]) -> Query:
    compiled = stmt.compile(dialect=PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    values = compiled.construct_params(params)
    return str(compiled), [values[name] for name in compiled.positiontup or ()]


def raw_statement(drilldown: tuple[str, ...], cut: Cut) -> Select[Any]:
    """The drilldown's GROUP BY over commitments ⋈ actions, without the roll-ups; territorial
    drilldowns and filters over the commitments' shares in their communes, as the API read them
    before the territorial roll-up."""
    territorial = bool(set(TERRITORIAL) & set(drilldown)) or cut.territorial
    s = source(True, territorial)
    from_: FromClause = s
    keys: list[ColumnElement[Any]] = []
    for dim in drilldown:
        if dim == "priority":
            link = ChantierPriority.__table__.alias("cp")
            on = link.c.chantier_id == s.c.chantier_id
            if cut.priority:  # cells only for the priorities asked for (where_cut's parameter)
                asked = bindparam("cut_priority", list(cut.priority), type_=ARRAY(Uuid))
                on = on & (link.c.priority_id == any_(asked))
            from_ = from_.outerjoin(link, on)
            keys.append(link.c.priority_id)
        elif dim == "partner_kind":
            partner = Partner.__table__.alias("pk")
            from_ = from_.join(partner, partner.c.id == s.c.partner_id)
            keys.append(partner.c.kind)
        else:
            keys.append(s.c[f"{dim}_id"] if dim in ENTITIES else s.c[dim])
    measures = [m.label(name) for name, m in measures_of(s).items()]
    return select(*keys, *measures).select_from(from_).where(*where_cut(s, cut)).group_by(*keys)


async def baselines(
    session: AsyncSession, settings: Settings, path: str, ids: dict[str, uuid.UUID]
) -> Baselines:
    """The floor's and the raw baseline's queries for one endpoint of the benchmark."""
    route, _, query_string = path.partition("?")
    if route == "/v1/summary":
        return Baselines((_compiled(SUMMARY, {})), (RAW_SUMMARY.format(where=""), []))
    if route.endswith("/summary"):
        programme = ids["programme"]
        where = "WHERE a.programme_id = $1"
        floor = _compiled(PROGRAMME_SUMMARY, {"programme_id": programme})
        return Baselines(floor, (RAW_SUMMARY.format(where=where), [programme]))
    if route.endswith("/progress"):
        return Baselines((FLOOR_PROGRESS, [ids["chantier"]]), (RAW_PROGRESS, [ids["chantier"]]))
    params = urllib.parse.parse_qs(query_string)
    dims = parse_drilldown(params.pop("drilldown", None))
    order = parse_order(params.pop("order", [None])[0], dims)
    page = int(params.pop("page", ["1"])[0])
    size = int(params.pop("page_size", ["100"])[0])
    filters = AggregateFilters(
        **{k: [int(x) for x in v] if k == "year" else v for k, v in params.items()}  # type: ignore[arg-type]
        | {k: int(params[k][0]) for k in ("year_from", "year_to") if k in params}
    )
    service = ReportingService(session, settings)
    cut = await service.resolve(filters)
    raw = _compiled(raw_statement(dims, cut), {})
    if not dims:
        return Baselines(_compiled(totals_statement(cut), {}), raw)
    cells = CellQuery(dims, cut, order, size, (page - 1) * size, settings.aggregates.max_cells)
    return Baselines(_compiled(page_statement(cells), page_params(cells)), raw)


def _json_default(value: object) -> str:
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(type(value).__name__)


class Floor:
    """The plain ASGI app: lifespan opens the pool, each request runs its one query."""

    def __init__(self, database_url: str, routes: dict[str, Query]) -> None:
        self.database_url = database_url
        self.routes = routes
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(self.database_url, min_size=2)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        query = scope["query_string"].decode("latin-1")
        sql, args = self.routes[scope["path"] + (f"?{query}" if query else "")]
        assert self.pool is not None
        rows = await self.pool.fetch(sql, *args)
        body = json.dumps([dict(row) for row in rows], default=_json_default).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_floor() -> Floor:
    # The routes' queries, pickled by bench.aggregates for this process (UUIDs, Decimals).
    routes = pickle.loads(Path(os.environ["FLOOR_ROUTES"]).read_bytes())
    return Floor(os.environ["FLOOR_DATABASE_URL"], routes)
