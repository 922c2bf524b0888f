"""The read benchmark's floor: the same commitments, fields and JSON, from the minimum.

A bare Starlette app (two routes, no middleware, no validation, no models) that runs one SQL
statement through a plain asyncpg pool and writes the rows with orjson. Served by uvicorn as
the API is (one worker, uvloop, httptools, no access log) and driven by the same wrk, it is the
bare-metal floor `make bench` measures the API against: API / floor is what the API's own work
costs (routing, the request pipeline, the session, validation and serialisation).

`bench.crud` checks, before measuring, that both answer the same JSON for the same request.

    uvicorn bench.crud_floor:create_floor --factory      (FLOOR_DATABASE_URL)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.common.pagination import SortKey, encode_cursor, fingerprint
from app.models.base import etag_of

# CommitmentRead's fields, in its order; `etag` is made from id and version as the API does.
FIELDS = (
    "id, created_at, updated_at, version, action_id, programme_id, partner_id, external_ref, "
    "year, amount, disbursed_amount, instrument, status, signed_on, label, beneficiary_name, "
    "beneficiary_siret, beneficiary_rna, decision_ref, eu_notified, synthetic"
)
GET_SQL = f"SELECT {FIELDS} FROM commitments WHERE id = $1"
LIST_SQL = f"SELECT {FIELDS} FROM commitments ORDER BY created_at DESC, id DESC LIMIT $1"
LIST_YEAR_SQL = (
    f"SELECT {FIELDS} FROM commitments WHERE year = ANY($1::int[]) "
    "ORDER BY created_at DESC, id DESC LIMIT $2"
)
SORT = (SortKey("created_at", True), SortKey("id", True))
FILTERS = (
    "programme_id action_id partner_id chantier_id year status instrument external_ref synthetic"
)


def _default(value: object) -> str:
    # Money as a decimal string; asyncpg's UUID type is a subclass orjson does not take.
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(type(value).__name__)


def _item(row: Any) -> dict[str, Any]:
    item = dict(row)
    version = item.pop("version")
    item["etag"] = etag_of(row["id"], version)
    return item


def _json(value: object, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(value, default=_default, option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json", headers=headers)


def create_floor() -> Starlette:
    pool: Any = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(os.environ["FLOOR_DATABASE_URL"], min_size=4)
        yield
        await pool.close()

    async def get_one(request: Request) -> Response:
        try:
            commitment_id = uuid.UUID(request.path_params["commitment_id"])
        except ValueError:
            return Response(status_code=404)
        row = await pool.fetchrow(GET_SQL, commitment_id)
        if row is None:
            return Response(status_code=404)
        item = _item(row)
        return _json(item, {"etag": item["etag"]})

    async def list_page(request: Request) -> Response:
        limit = int(request.query_params.get("limit", "50"))
        years = [int(y) for y in request.query_params.getlist("year")]
        if years:
            rows = await pool.fetch(LIST_YEAR_SQL, years, limit + 1)
        else:
            rows = await pool.fetch(LIST_SQL, limit + 1)
        cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            filters: dict[str, Any] = dict.fromkeys(FILTERS.split())
            filters["year"] = years or None
            fp = fingerprint(filters, SORT)
            cursor = encode_cursor([rows[-1]["created_at"], rows[-1]["id"]], fp)
        return _json({"items": [_item(r) for r in rows], "next_cursor": cursor})

    async def ready(_: Request) -> Response:
        return Response(b"ok")

    return Starlette(
        routes=[
            Route("/readyz", ready),
            Route("/v1/commitments", list_page),
            Route("/v1/commitments/{commitment_id}", get_one),
        ],
        lifespan=lifespan,
    )
