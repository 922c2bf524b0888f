"""Every write route × every identity, with the documented status.

A route without an entry in POLICY fails `test_every_write_route_has_a_policy`, so a new write
route cannot ship without its access rule being written down and tested here.
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
from tests.conftest import KeyMaker
from tests.factories import make_action, make_commitment, partner_id

IDENTITIES = ("none", "invalid", "partner_a", "partner_b", "editor", "admin")
_n = itertools.count(1)

Setup = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[tuple[str, dict[str, Any] | None]]]


@dataclass(frozen=True)
class Policy:
    setup: Setup  # builds what the call needs (as admin); returns the URL and the body
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


async def _priority(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    body = {"code": _code(), "name": "Test"}
    return str((await client.post("/v1/priorities", json=body, headers=admin)).json()["id"])


async def _chantier(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    body = {"number": 100 + next(_n), "code": _code(), "name": "Test"}
    return str((await client.post("/v1/chantiers", json=body, headers=admin)).json()["id"])


async def _partner(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    body = {"code": _code(), "name": "Test", "kind": "other"}
    return str((await client.post("/v1/partners", json=body, headers=admin)).json()["id"])


async def _commitment(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    bdt = await partner_id(client, "BDT")
    return str((await make_commitment(client, admin, partner_id=bdt))["id"])


async def _key(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    body = {"name": "doomed", "role": "editor"}
    return str((await client.post("/v1/api-keys", json=body, headers=admin)).json()["id"])


def _item(action_id: str) -> dict[str, Any]:
    return {"action_id": action_id, "year": 2024, "amount": "10.00", "instrument": "grant"}


def _simple(
    plural: str, make: Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[str]]
) -> dict[tuple[str, str], Setup]:
    async def patch(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any] | None]:
        return f"/v1/{plural}/{await make(c, a)}", {"name": "Renamed"}

    async def delete(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any] | None]:
        return f"/v1/{plural}/{await make(c, a)}", None

    return {("PATCH", "patch"): patch, ("DELETE", "delete"): delete}


async def _post_priority(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "/v1/priorities", {"code": _code(), "name": "New"}


async def _post_chantier(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "/v1/chantiers", {"number": 500 + next(_n), "code": _code(), "name": "New"}


async def _post_action(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    chantier = (await c.get("/v1/chantiers", params={"number": 5})).json()["items"][0]["id"]
    return "/v1/actions", {"code": _code(), "chantier_id": chantier, "title": "New"}


async def _post_partner(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "/v1/partners", {"code": _code(), "name": "New", "kind": "other"}


async def _post_commitment(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    action = (await make_action(c, a))["id"]
    return "/v1/commitments", _item(action) | {"partner_id": await partner_id(c, "BDT")}


async def _patch_commitment(
    c: httpx.AsyncClient, a: dict[str, str]
) -> tuple[str, dict[str, Any] | None]:
    return f"/v1/commitments/{await _commitment(c, a)}", {"label": "x"}


async def _delete_commitment(
    c: httpx.AsyncClient, a: dict[str, str]
) -> tuple[str, dict[str, Any] | None]:
    return f"/v1/commitments/{await _commitment(c, a)}", None


async def _put_one(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    action = (await make_action(c, a))["id"]
    return f"/v1/partners/{await partner_id(c, 'BDT')}/commitments/{_code()}", _item(action)


async def _put_batch(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    action = (await make_action(c, a))["id"]
    items = [_item(action) | {"external_ref": _code()}]
    return f"/v1/partners/{await partner_id(c, 'BDT')}/commitments", {"items": items}


async def _post_key(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "/v1/api-keys", {"name": "new", "role": "editor"}


async def _delete_key(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any] | None]:
    return f"/v1/api-keys/{await _key(c, a)}", None


def _reference(plural: str, post: Setup, make: Any) -> dict[tuple[str, str], Policy]:
    item = f"/v1/{plural}/{{{plural.removesuffix('s').replace('prioritie', 'priority')}_id}}"
    simple = _simple(plural, make)
    return {
        ("POST", f"/v1/{plural}"): Policy(post, 201, STAFF),
        ("PATCH", item): Policy(simple[("PATCH", "patch")], 200, STAFF),
        ("DELETE", item): Policy(simple[("DELETE", "delete")], 204, STAFF),
    }


async def _action_id(c: httpx.AsyncClient, a: dict[str, str]) -> str:
    return str((await make_action(c, a))["id"])


async def _patch_action(c: httpx.AsyncClient, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return f"/v1/actions/{await _action_id(c, a)}", {"title": "Renamed"}


async def _delete_action(
    c: httpx.AsyncClient, a: dict[str, str]
) -> tuple[str, dict[str, Any] | None]:
    return f"/v1/actions/{await _action_id(c, a)}", None


POLICY: dict[tuple[str, str], Policy] = {
    **_reference("priorities", _post_priority, _priority),
    **_reference("chantiers", _post_chantier, _chantier),
    **_reference("partners", _post_partner, _partner),
    ("POST", "/v1/actions"): Policy(_post_action, 201, STAFF),
    ("PATCH", "/v1/actions/{action_id}"): Policy(_patch_action, 200, STAFF),
    ("DELETE", "/v1/actions/{action_id}"): Policy(_delete_action, 204, STAFF),
    ("POST", "/v1/commitments"): Policy(_post_commitment, 201, WRITERS),
    ("PATCH", "/v1/commitments/{commitment_id}"): Policy(_patch_commitment, 200, WRITERS, FOREIGN),
    ("DELETE", "/v1/commitments/{commitment_id}"): Policy(
        _delete_commitment, 204, WRITERS, FOREIGN
    ),
    ("PUT", "/v1/partners/{partner_id}/commitments/{external_ref}"): Policy(_put_one, 201, WRITERS),
    ("PUT", "/v1/partners/{partner_id}/commitments"): Policy(_put_batch, 200, WRITERS),
    ("POST", "/v1/api-keys"): Policy(_post_key, 201, ADMIN),
    ("DELETE", "/v1/api-keys/{api_key_id}"): Policy(_delete_key, 204, ADMIN),
}


def _write_routes(app: FastAPI) -> set[tuple[str, str]]:
    # From the OpenAPI document: FastAPI wraps included routers, so app.routes is not flat.
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in operations
        if method not in ("get", "head")
    }


def test_every_write_route_has_a_policy(app: FastAPI) -> None:
    routes = _write_routes(app)
    assert routes - set(POLICY) == set(), "write routes without an access policy"
    assert set(POLICY) - routes == set(), "policies for routes that do not exist"


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("route", sorted(POLICY), ids=lambda r: f"{r[0]} {r[1]}")
async def test_write_route_answers_the_documented_status(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_key: KeyMaker,
    route: tuple[str, str],
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
    url, body = await policy.setup(client, admin)
    response = await client.request(route[0], url, json=body, headers=headers)
    assert response.status_code == policy.expected(identity), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
