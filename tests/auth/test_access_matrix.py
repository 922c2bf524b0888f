"""Every write route × every identity, with the documented status.

Routes are named by their operationId. A write route without an entry in POLICY fails
`test_every_write_route_has_a_policy`, so a new write route cannot ship without its access rule
being written down and tested here.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.models.enums import Role
from contract.snapshot import build_document
from tests.conftest import KeyMaker
from tests.factories import make_action, make_commitment, partner_id

IDENTITIES = ("none", "invalid", "partner_a", "partner_b", "editor", "admin")
_n = itertools.count(1)


@dataclass(frozen=True)
class Upload:
    """A body that is a file, not JSON, sent with query parameters."""

    content: bytes
    content_type: str
    query: dict[str, str]


Body = dict[str, Any] | Upload | None
Call = tuple[dict[str, str], Body]  # the route's path parameters, and the body to send
Setup = Callable[[httpx.AsyncClient, FastAPI, dict[str, str]], Awaitable[Call]]


@dataclass(frozen=True)
class Policy:
    setup: Setup  # builds what the call needs (as admin)
    ok: int  # the status of an allowed call
    allowed: frozenset[str]  # identities allowed; keyless ones get 401, the others 403
    # Identities for which the resource is out of reach: they get the 404 of a missing one.
    hidden: frozenset[str] = frozenset()

    def expected(self, identity: str) -> int:
        if identity in ("none", "invalid"):
            return 401
        if identity in self.hidden:
            return 404
        return self.ok if identity in self.allowed else 403


STAFF = frozenset({"editor", "admin"})
WRITERS = frozenset({"partner_a", "editor", "admin"})  # partner A owns the commitment
FOREIGN = frozenset({"partner_b"})  # a partner key, for another partner's commitment
ADMIN = frozenset({"admin"})


def _code() -> str:
    return f"T{next(_n):04d}"


def _item(action_id: str) -> dict[str, Any]:
    return {"action_id": action_id, "year": 2024, "amount": "10.00", "instrument": "grant"}


async def _created(
    c: httpx.AsyncClient, app: FastAPI, a: dict[str, str], route: str, body: dict[str, Any]
) -> str:
    response = await c.post(app.url_path_for(route), json=body, headers=a)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _new(body: Callable[[], dict[str, Any]]) -> Setup:
    """The call of a create route."""

    async def setup(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
        return {}, body()

    return setup


def _on(
    param: str,
    make: Callable[[httpx.AsyncClient, FastAPI, dict[str, str]], Awaitable[str]],
    body: Body = None,
) -> Setup:
    """The call of an item route, on a resource made for it."""

    async def setup(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
        return {param: await make(c, app, a)}, body

    return setup


def _reference_data(noun: str, new: Callable[[], dict[str, Any]]) -> dict[str, Policy]:
    """Programmes, priorities, chantiers and partners: staff keys write them."""

    async def make(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> str:
        return await _created(c, app, a, f"create_{noun}", new())

    return {
        f"create_{noun}": Policy(_new(new), 201, STAFF),
        f"update_{noun}": Policy(_on(f"{noun}_id", make, {"name": "Renamed"}), 200, STAFF),
        f"delete_{noun}": Policy(_on(f"{noun}_id", make), 204, STAFF),
    }


async def _action(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> str:
    return str((await make_action(c, a))["id"])


async def _commitment(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> str:
    bdt = await partner_id(c, "BDT")
    return str((await make_commitment(c, a, partner_id=bdt))["id"])


async def _api_key(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> str:
    return await _created(c, app, a, "create_api_key", {"name": "doomed", "role": "editor"})


async def _post_action(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
    listed = await c.get(app.url_path_for("list_chantiers"), params={"number": 5})
    chantier = listed.json()["items"][0]["id"]
    return {}, {"code": _code(), "chantier_id": chantier, "title": "New"}


async def _post_commitment(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
    action = (await make_action(c, a))["id"]
    return {}, _item(action) | {"partner_id": await partner_id(c, "BDT")}


async def _put_one(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
    action = (await make_action(c, a))["id"]
    return {"partner_id": await partner_id(c, "BDT"), "external_ref": _code()}, _item(action)


async def _put_batch(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
    action = (await make_action(c, a))["id"]
    items = [_item(action) | {"external_ref": _code()}]
    return {"partner_id": await partner_id(c, "BDT")}, {"items": items}


async def _scdl_upload(c: httpx.AsyncClient, app: FastAPI, a: dict[str, str]) -> Call:
    action = (await make_action(c, a))["id"]
    header = "nomAttribuant,idAttribuant,dateConvention,nomBeneficiaire,montant\r\n"
    return {}, Upload(header.encode(), "text/csv", {"action_id": action})


POLICY: dict[str, Policy] = {
    **_reference_data(
        "programme",
        lambda: {
            "code": _code(),
            "name": "New",
            "start_year": 2023,
            "end_year": 2027,
            "territory_code": "200054807",
        },
    ),
    **_reference_data("priority", lambda: {"code": _code(), "name": "New"}),
    **_reference_data(
        "chantier", lambda: {"number": 100 + next(_n), "code": _code(), "name": "New"}
    ),
    **_reference_data("partner", lambda: {"code": _code(), "name": "New", "kind": "other"}),
    "create_action": Policy(_post_action, 201, STAFF),
    "update_action": Policy(_on("action_id", _action, {"title": "Renamed"}), 200, STAFF),
    "delete_action": Policy(_on("action_id", _action), 204, STAFF),
    "create_commitment": Policy(_post_commitment, 201, WRITERS),
    "update_commitment": Policy(
        _on("commitment_id", _commitment, {"label": "x"}), 200, WRITERS, FOREIGN
    ),
    "delete_commitment": Policy(_on("commitment_id", _commitment), 204, WRITERS, FOREIGN),
    "put_commitment": Policy(_put_one, 201, WRITERS),
    "put_commitments": Policy(_put_batch, 200, WRITERS),
    "create_api_key": Policy(_new(lambda: {"name": "new", "role": "editor"}), 201, ADMIN),
    "delete_api_key": Policy(_on("api_key_id", _api_key), 204, ADMIN),
    "import_scdl": Policy(_scdl_upload, 200, STAFF),
}


def _write_routes(document: dict[str, Any]) -> dict[str, str]:
    """operationId -> HTTP method of every write under /v1 in this OpenAPI document."""
    return {
        operation["operationId"]: method.upper()
        for path, operations in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        if method not in ("get", "head")
    }


METHODS = _write_routes(build_document())


def test_every_write_route_has_a_policy(app: FastAPI) -> None:
    routes = set(_write_routes(app.openapi()))
    assert routes - set(POLICY) == set(), "write routes without an access policy"
    assert set(POLICY) - routes == set(), "policies for routes that do not exist"


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("route", sorted(POLICY))
async def test_write_route_answers_the_documented_status(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_key: KeyMaker,
    route: str,
    identity: str,
) -> None:
    headers = {
        "none": {},
        "invalid": {"Authorization": "Bearer rk_000000000000_not-a-key"},
        "partner_a": await make_key(Role.partner, "BDT"),
        "partner_b": await make_key(Role.partner, "AMP"),
        "editor": await make_key(Role.editor),
        "admin": admin,
    }[identity]
    policy = POLICY[route]
    params, body = await policy.setup(client, app, admin)
    url = app.url_path_for(route, **params)
    if isinstance(body, Upload):
        response = await client.request(
            METHODS[route],
            url,
            params=body.query,
            content=body.content,
            headers=headers | {"Content-Type": body.content_type},
        )
    else:
        response = await client.request(METHODS[route], url, json=body, headers=headers)
    assert response.status_code == policy.expected(identity), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
