"""Direct routes (app.common.direct): GET one commitment and the list of commitments run
their endpoints and dependencies without FastAPI's dependency solving, and answer every request
as the FastAPI route behind them does: the row, a 304, a missing id, an id that is not one, a
query string, another method, a page and the next, refused parameters, reads that need a key;
they are logged under the route's template."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.dependencies import require_reader
from app.common.direct import DirectRoute, NotDirect, direct_routes
from app.config import AuthSettings, Settings
from app.main import DIRECT_READS, _require_reader, attach_database, create_app
from tests.conftest import Session, asgi_client
from tests.factories import make_commitment

COMMITMENTS = "/v1/commitments"
VARYING = {"date", "x-request-id"}


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose dependencies FastAPI solved, in order (its real solver, counted)."""
    paths: list[str] = []
    real = fastapi.routing.solve_dependencies  # type: ignore[attr-defined]

    async def counted(*args: Any, **kwargs: Any) -> Any:
        paths.append(kwargs["request"].url.path)
        return await real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return paths


def without_direct_routes(app: FastAPI) -> FastAPI:
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, DirectRoute)]
    return app


@pytest.fixture
async def fastapi_only(
    settings: Settings, engine: AsyncEngine, sessionmaker: Session
) -> AsyncIterator[httpx.AsyncClient]:
    """The same app, in the same transaction, with its FastAPI routes only."""
    app = without_direct_routes(create_app(settings))
    attach_database(app, engine, sessionmaker)
    async with asgi_client(app) as client:
        yield client


def same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k not in VARYING} == {
        k: v for k, v in b.headers.items() if k not in VARYING
    }


def test_the_app_puts_its_direct_reads_first(app: FastAPI) -> None:
    front = app.router.routes[: len(DIRECT_READS)]
    assert [type(r) for r in front] == [DirectRoute] * len(DIRECT_READS)
    assert [r.name for r in front if isinstance(r, DirectRoute)] == list(DIRECT_READS)


async def test_get_one_is_answered_without_fastapis_dependency_solving(
    client: httpx.AsyncClient,
    fastapi_only: httpx.AsyncClient,
    editor: dict[str, str],
    solved: list[str],
) -> None:
    commitment = await make_commitment(client, editor, label="Direct")
    path = f"{COMMITMENTS}/{commitment['id']}"
    solved.clear()
    direct = await client.get(path)
    assert solved == []  # the direct route ran it
    assert direct.status_code == 200
    assert direct.json() == commitment
    assert direct.headers["etag"] == commitment["etag"]
    behind = await fastapi_only.get(path)
    assert solved == [path]  # the FastAPI route ran it
    same(direct, behind)


async def test_a_current_etag_is_a_304_and_a_stale_one_the_row(
    client: httpx.AsyncClient,
    fastapi_only: httpx.AsyncClient,
    editor: dict[str, str],
    solved: list[str],
) -> None:
    commitment = await make_commitment(client, editor)
    path = f"{COMMITMENTS}/{commitment['id']}"
    solved.clear()
    for tag in (commitment["etag"], '"stale-1"', f'"x", {commitment["etag"]}'):
        direct = await client.get(path, headers={"If-None-Match": tag})
        same(direct, await fastapi_only.get(path, headers={"If-None-Match": tag}))
    assert solved == [path] * 3  # only the FastAPI-only app solved dependencies
    assert (
        await client.get(path, headers={"If-None-Match": commitment["etag"]})
    ).status_code == 304


async def test_a_missing_commitment_is_the_same_404(
    client: httpx.AsyncClient, fastapi_only: httpx.AsyncClient, solved: list[str]
) -> None:
    path = f"{COMMITMENTS}/{uuid.uuid4()}"
    direct = await client.get(path)
    assert solved == []  # raised by the endpoint the direct route ran
    assert direct.status_code == 404
    assert direct.headers["content-type"] == "application/problem+json"
    same(direct, await fastapi_only.get(path))


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "not-a-uuid"),
        ("GET", "{id}?unknown=1"),
        ("GET", "{id}?"),
        ("HEAD", "{id}"),
        ("OPTIONS", "{id}"),
    ],
)
async def test_what_the_direct_route_does_not_answer_the_fastapi_route_does(
    client: httpx.AsyncClient,
    fastapi_only: httpx.AsyncClient,
    editor: dict[str, str],
    solved: list[str],
    method: str,
    suffix: str,
) -> None:
    commitment = await make_commitment(client, editor)
    path = f"{COMMITMENTS}/{suffix.format(id=commitment['id'])}"
    solved.clear()
    direct = await client.request(method, path)
    assert direct.status_code != 200 or suffix.endswith("?")
    same(direct, await fastapi_only.request(method, path))


async def test_reads_that_need_a_key_need_one_on_the_direct_route(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: Session,
    client: httpx.AsyncClient,
    editor: dict[str, str],
    solved: list[str],
) -> None:
    commitment = await make_commitment(client, editor)
    path = f"{COMMITMENTS}/{commitment['id']}"
    private = settings.model_copy(update={"auth": AuthSettings(read_requires_key=True)})
    apps = [create_app(private), without_direct_routes(create_app(private))]
    for app in apps:
        attach_database(app, engine, sessionmaker)
    answers = []
    solved.clear()
    for app in apps:
        async with asgi_client(app) as private_client:
            answers.append(
                (await private_client.get(path), await private_client.get(path, headers=editor))
            )
    (anonymous, keyed), (anonymous_behind, keyed_behind) = answers
    assert anonymous.status_code == 401
    assert keyed.status_code == 200
    same(anonymous, anonymous_behind)
    same(keyed, keyed_behind)
    assert solved == [path, path]  # the FastAPI-only app's two requests


async def test_a_direct_read_is_logged_under_its_route_template(
    client: httpx.AsyncClient, editor: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    commitment = await make_commitment(client, editor)
    with caplog.at_level(logging.INFO, logger="relance.access"):
        await client.get(f"{COMMITMENTS}/{commitment['id']}")
    (entry,) = [r for r in caplog.records if r.name == "relance.access"]
    assert entry.__dict__["route"] == "/v1/commitments/{commitment_id}"
    assert entry.__dict__["status"] == 200


def test_only_routes_it_can_run_as_fastapi_would_are_made_direct(app: FastAPI) -> None:
    reader = {require_reader: _require_reader}
    assert [r.name for r in direct_routes(app.router.routes, DIRECT_READS, reader)] == list(
        DIRECT_READS
    )
    with pytest.raises(NotDirect, match="needs more than the request"):  # the reader check
        direct_routes(app.router.routes, ("get_commitment",), {})
    with pytest.raises(NotDirect, match="only a FastAPI GET"):
        direct_routes(app.router.routes, ("update_commitment",), {})
    with pytest.raises(NotDirect, match="no route named"):
        direct_routes(app.router.routes, ("get_nothing",), {})


def test_urls_of_routes_are_those_of_their_fastapi_routes(app: FastAPI) -> None:
    commitment_id = uuid.uuid4()
    url = app.url_path_for("get_commitment", commitment_id=str(commitment_id))
    assert url == f"{COMMITMENTS}/{commitment_id}"
    assert app.url_path_for("list_commitments") == COMMITMENTS


VALID_LISTS = [
    "",
    "?limit=2",
    "?year=2023&year=2024",
    "?sort=-amount,year&limit=3",
    "?synthetic=false&status=planned",
]
# A refused list, and who refuses it: the FastAPI route's parameter validation ("solved"), its
# strict query check before that ("strict"), or the endpoint the direct route ran ("direct").
REFUSED_LISTS = [
    ("?limit=0", "solved"),
    ("?limit=abc", "solved"),
    ("?status=bogus", "solved"),
    ("?year=twenty", "solved"),
    ("?sort=nope", "solved"),
    ("?unknown=1", "strict"),
    ("?label=%00", "strict"),
    ("?cursor=garbage", "direct"),
]


async def test_lists_are_answered_directly_and_alike(
    client: httpx.AsyncClient,
    fastapi_only: httpx.AsyncClient,
    editor: dict[str, str],
    solved: list[str],
) -> None:
    for year, amount in ((2023, "10.00"), (2024, "30.00"), (2024, "20.00"), (2025, "5.00")):
        await make_commitment(client, editor, year=year, amount=amount)
    for query in VALID_LISTS:
        solved.clear()
        direct = await client.get(COMMITMENTS + query)
        assert solved == [], query  # the direct route ran it
        assert direct.status_code == 200, direct.text
        same(direct, await fastapi_only.get(COMMITMENTS + query))
    first = (await client.get(COMMITMENTS, params={"limit": 2})).json()
    assert first["next_cursor"] is not None
    query = f"?limit=2&cursor={first['next_cursor']}"
    solved.clear()
    second = await client.get(COMMITMENTS + query)
    assert solved == []
    same(second, await fastapi_only.get(COMMITMENTS + query))
    assert {i["id"] for i in second.json()["items"]}.isdisjoint(i["id"] for i in first["items"])


@pytest.mark.parametrize(("query", "refused_by"), REFUSED_LISTS)
async def test_a_refused_list_is_the_fastapi_routes_400(
    client: httpx.AsyncClient,
    fastapi_only: httpx.AsyncClient,
    solved: list[str],
    query: str,
    refused_by: str,
) -> None:
    direct = await client.get(COMMITMENTS + query)
    assert solved == ([COMMITMENTS] if refused_by == "solved" else [])
    assert direct.status_code == 400, direct.text
    same(direct, await fastapi_only.get(COMMITMENTS + query))


async def test_a_malformed_read_after_header_is_the_fastapi_routes_400(
    client: httpx.AsyncClient, fastapi_only: httpx.AsyncClient, solved: list[str]
) -> None:
    headers = {"Relance-Read-After": "not-a-position"}
    direct = await client.get(COMMITMENTS, headers=headers)
    assert solved == [COMMITMENTS]
    assert direct.status_code == 400
    same(direct, await fastapi_only.get(COMMITMENTS, headers=headers))
