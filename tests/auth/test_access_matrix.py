"""Every write route × every identity, with the documented status.

Routes are named by their operationId. A write route without an entry in POLICY fails
`test_every_write_route_has_a_policy`, so a new write route cannot ship without its access rule
being written down and tested here.

Two programmes exist in every test: A (the seeded one, which every resource below belongs to)
and B. Identities: no key, an unknown key, partner keys for BDT (the commitments' partner) and
for AMP, an unscoped editor, an admin, editors scoped to A and to B, and a BDT partner key
scoped to B. A key scoped to B gets, on A's resources, the 404 of a missing one, and on a body
naming A's parent (the programme of a priority, the chantier of an action, the action of a
commitment) the 422 of a missing parent; `test_out_of_scope_answers_like_missing` checks that
those answers are the very ones a missing resource gets.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.models.enums import Role
from contract.snapshot import build_document
from tests.conftest import KeyMaker
from tests.factories import make_action, make_commitment, partner_id

IDENTITIES = (
    "none",
    "invalid",
    "partner_a",
    "partner_b",
    "editor",
    "admin",
    "scoped_a",
    "scoped_b",
    "partner_a_in_b",
)
PROGRAMME_B = "MATRIX-B"
_n = itertools.count(1)


@dataclass(frozen=True)
class Upload:
    """A body that is a file, not JSON, sent with query parameters."""

    content: bytes
    content_type: str
    query: dict[str, str]


Body = dict[str, Any] | Upload | None
Call = tuple[dict[str, str], Body]  # the route's path parameters, and the body to send


@dataclass(frozen=True)
class Ctx:
    """What a setup needs: the client, the app, an admin's headers, the programmes' ids."""

    c: httpx.AsyncClient
    app: FastAPI
    admin: dict[str, str]
    programme_a: str
    programme_b: str


Setup = Callable[[Ctx], Awaitable[Call]]


@dataclass(frozen=True)
class Policy:
    setup: Setup  # builds what the call needs (as admin), inside programme A
    ok: int  # the status of an allowed call
    allowed: frozenset[str]  # identities allowed; keyless ones get 401, the others 403
    # Identities for which the resource is out of reach: they get the 404 of a missing one.
    hidden: frozenset[str] = frozenset()
    # Identities for which a resource the body names is out of reach: the 422 of a missing one.
    unreachable: frozenset[str] = frozenset()

    def expected(self, identity: str) -> int:
        if identity in ("none", "invalid"):
            return 401
        if identity in self.hidden:
            return 404
        if identity in self.unreachable:
            return 422
        return self.ok if identity in self.allowed else 403


UNSCOPED_STAFF = frozenset({"editor", "admin"})
STAFF = UNSCOPED_STAFF | {"scoped_a"}  # who writes programme A's reference data
OTHER_PROGRAMME = frozenset({"scoped_b"})
WRITERS = STAFF | {"partner_a"}  # partner A (BDT) owns the commitment
FOREIGN = frozenset({"partner_b", "scoped_b", "partner_a_in_b"})  # out of reach, 404
FOREIGN_PARENT = frozenset({"scoped_b", "partner_a_in_b"})  # the action is out of reach, 422
ADMIN = frozenset({"admin"})


def _code() -> str:
    return f"T{next(_n):04d}"


def _item(action_id: str) -> dict[str, Any]:
    return {"action_id": action_id, "year": 2024, "amount": "10.00", "instrument": "grant"}


async def _created(ctx: Ctx, route: str, body: dict[str, Any]) -> str:
    response = await ctx.c.post(ctx.app.url_path_for(route), json=body, headers=ctx.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


NewBody = Callable[[Ctx], dict[str, Any]]


def _new(body: NewBody) -> Setup:
    """The call of a create route."""

    async def setup(ctx: Ctx) -> Call:
        return {}, body(ctx)

    return setup


def _on(param: str, make: Callable[[Ctx], Awaitable[str]], body: Body = None) -> Setup:
    """The call of an item route, on a resource made for it."""

    async def setup(ctx: Ctx) -> Call:
        return {param: await make(ctx)}, body

    return setup


def _owned(noun: str, new: NewBody) -> dict[str, Policy]:
    """Priorities and chantiers of programme A: staff keys reaching A write them."""

    async def make(ctx: Ctx) -> str:
        return await _created(ctx, f"create_{noun}", new(ctx))

    return {
        f"create_{noun}": Policy(_new(new), 201, STAFF, unreachable=OTHER_PROGRAMME),
        f"update_{noun}": Policy(
            _on(f"{noun}_id", make, {"name": "Renamed"}), 200, STAFF, OTHER_PROGRAMME
        ),
        f"delete_{noun}": Policy(_on(f"{noun}_id", make), 204, STAFF, OTHER_PROGRAMME),
    }


def _new_programme(ctx: Ctx) -> dict[str, Any]:
    return {
        "code": _code(),
        "name": "New",
        "start_year": 2023,
        "end_year": 2027,
        "territory_code": "200054807",
    }


def _new_partner(ctx: Ctx) -> dict[str, Any]:
    return {"code": _code(), "name": "New", "kind": "other"}


async def _programme_a(ctx: Ctx) -> str:
    return ctx.programme_a


async def _programme(ctx: Ctx) -> str:
    return await _created(ctx, "create_programme", _new_programme(ctx))


async def _partner(ctx: Ctx) -> str:
    return await _created(ctx, "create_partner", _new_partner(ctx))


async def _action(ctx: Ctx) -> str:
    return str((await make_action(ctx.c, ctx.admin))["id"])


async def _commitment(ctx: Ctx) -> str:
    bdt = await partner_id(ctx.c, "BDT")
    return str((await make_commitment(ctx.c, ctx.admin, partner_id=bdt))["id"])


async def _api_key(ctx: Ctx) -> str:
    return await _created(ctx, "create_api_key", {"name": "doomed", "role": "editor"})


async def _post_action(ctx: Ctx) -> Call:
    listed = await ctx.c.get(ctx.app.url_path_for("list_chantiers"), params={"number": 5})
    chantier = listed.json()["items"][0]["id"]
    return {}, {"code": _code(), "chantier_id": chantier, "title": "New"}


async def _put_actions(ctx: Ctx) -> Call:
    _, body = await _post_action(ctx)
    return {}, {"items": [body]}


async def _post_commitment(ctx: Ctx) -> Call:
    action = (await make_action(ctx.c, ctx.admin))["id"]
    return {}, _item(action) | {"partner_id": await partner_id(ctx.c, "BDT")}


async def _put_one(ctx: Ctx) -> Call:
    action = (await make_action(ctx.c, ctx.admin))["id"]
    return {"partner_id": await partner_id(ctx.c, "BDT"), "external_ref": _code()}, _item(action)


async def _put_batch(ctx: Ctx) -> Call:
    action = (await make_action(ctx.c, ctx.admin))["id"]
    items = [_item(action) | {"external_ref": _code()}]
    return {"partner_id": await partner_id(ctx.c, "BDT")}, {"items": items}


async def _refd_commitment(ctx: Ctx) -> str:
    """BDT's commitment with a reference of its own; returns that reference."""
    ref = _code()
    await make_commitment(
        ctx.c, ctx.admin, partner_id=await partner_id(ctx.c, "BDT"), external_ref=ref
    )
    return ref


def _pay(**fields: Any) -> dict[str, Any]:
    return {"paid_on": "2024-05-01", "amount": "1.00"} | fields


async def _post_payment(ctx: Ctx) -> Call:
    return {"commitment_id": await _commitment(ctx)}, _pay()


async def _payment(ctx: Ctx) -> str:
    commitment = await _commitment(ctx)
    url = ctx.app.url_path_for("create_payment", commitment_id=commitment)
    response = await ctx.c.post(url, json=_pay(), headers=ctx.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _put_payment(ctx: Ctx) -> Call:
    ref = await _refd_commitment(ctx)
    params = {"partner_id": await partner_id(ctx.c, "BDT"), "external_ref": _code()}
    return params, _pay(commitment_external_ref=ref)


async def _put_payments(ctx: Ctx) -> Call:
    ref = await _refd_commitment(ctx)
    items = [_pay(commitment_external_ref=ref, external_ref=_code())]
    return {"partner_id": await partner_id(ctx.c, "BDT")}, {"items": items}


def _jalon(**fields: Any) -> dict[str, Any]:
    return {"title": "Jalon", "kind": "study", "due_on": "2024-05-01"} | fields


async def _post_milestone(ctx: Ctx) -> Call:
    return {"action_id": await _action(ctx)}, _jalon()


async def _milestone(ctx: Ctx) -> str:
    url = ctx.app.url_path_for("create_milestone", action_id=await _action(ctx))
    response = await ctx.c.post(url, json=_jalon(), headers=ctx.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


_PLAN = {"total_cost": "100.00", "eligible_cost": "100.00", "lines": []}


async def _planned_action(ctx: Ctx) -> str:
    action = await _action(ctx)
    url = f"/v1/actions/{action}/financing-plan"
    assert (await ctx.c.put(url, json=_PLAN, headers=ctx.admin)).status_code == 201
    return action


async def _indicator(ctx: Ctx) -> str:
    body = {"code": _code(), "name": "Tram", "unit": "km", "programme_id": ctx.programme_a}
    return await _created(ctx, "create_indicator", body)


async def _record(ctx: Ctx) -> dict[str, str]:
    """An action of programme A following an indicator of A (as admin)."""
    params = {"action_id": await _action(ctx), "indicator_id": await _indicator(ctx)}
    url = ctx.app.url_path_for("put_action_indicator", **params)
    assert (await ctx.c.put(url, json={}, headers=ctx.admin)).status_code == 201
    return params


async def _put_record(ctx: Ctx) -> Call:
    return {"action_id": await _action(ctx), "indicator_id": await _indicator(ctx)}, {}


async def _delete_record(ctx: Ctx) -> Call:
    return await _record(ctx), None


async def _value(ctx: Ctx) -> dict[str, str]:
    params = await _record(ctx)
    action = await ctx.c.get(ctx.app.url_path_for("get_action", action_id=params["action_id"]))
    indicator = await ctx.c.get(
        ctx.app.url_path_for("get_indicator", indicator_id=params["indicator_id"])
    )
    return {
        "action_code": action.json()["code"],
        "indicator_code": indicator.json()["code"],
        "on": "2024-05-01",
        "value": "1.5",
    }


async def _put_value(ctx: Ctx) -> Call:
    params = {"partner_id": await partner_id(ctx.c, "BDT"), "external_ref": _code()}
    return params, await _value(ctx)


async def _put_values(ctx: Ctx) -> Call:
    items = [await _value(ctx) | {"external_ref": _code()}]
    return {"partner_id": await partner_id(ctx.c, "BDT")}, {"items": items}


async def _scdl_upload(ctx: Ctx) -> Call:
    action = (await make_action(ctx.c, ctx.admin))["id"]
    header = "nomAttribuant,idAttribuant,dateConvention,nomBeneficiaire,montant\r\n"
    return {}, Upload(header.encode(), "text/csv", {"action_id": action})


POLICY: dict[str, Policy] = {
    # Programmes: a scoped key updates its own, never creates or deletes one.
    "create_programme": Policy(_new(_new_programme), 201, UNSCOPED_STAFF),
    "update_programme": Policy(
        _on("programme_id", _programme_a, {"name": "Renamed"}), 200, STAFF, OTHER_PROGRAMME
    ),
    "delete_programme": Policy(_on("programme_id", _programme), 204, UNSCOPED_STAFF),
    **_owned(
        "priority",
        lambda ctx: {"programme_id": ctx.programme_a, "code": _code(), "name": "New"},
    ),
    **_owned(
        "chantier",
        lambda ctx: {
            "programme_id": ctx.programme_a,
            "number": 100 + next(_n),
            "code": _code(),
            "name": "New",
        },
    ),
    # Partners are shared by every programme: only keys reaching every programme write them.
    "create_partner": Policy(_new(_new_partner), 201, UNSCOPED_STAFF),
    "update_partner": Policy(_on("partner_id", _partner, {"name": "Renamed"}), 200, UNSCOPED_STAFF),
    "delete_partner": Policy(_on("partner_id", _partner), 204, UNSCOPED_STAFF),
    "put_partners": Policy(_new(lambda ctx: {"items": [_new_partner(ctx)]}), 200, UNSCOPED_STAFF),
    "create_action": Policy(_post_action, 201, STAFF, unreachable=OTHER_PROGRAMME),
    "update_action": Policy(
        _on("action_id", _action, {"title": "Renamed"}), 200, STAFF, OTHER_PROGRAMME
    ),
    "delete_action": Policy(_on("action_id", _action), 204, STAFF, OTHER_PROGRAMME),
    "put_actions": Policy(_put_actions, 200, STAFF, unreachable=OTHER_PROGRAMME),
    "create_commitment": Policy(_post_commitment, 201, WRITERS, unreachable=FOREIGN_PARENT),
    "update_commitment": Policy(
        _on("commitment_id", _commitment, {"label": "x"}), 200, WRITERS, FOREIGN
    ),
    "delete_commitment": Policy(_on("commitment_id", _commitment), 204, WRITERS, FOREIGN),
    "put_commitment": Policy(_put_one, 201, WRITERS, unreachable=FOREIGN_PARENT),
    # A commitment's schedule: whoever writes the commitment (factories: 2024, 1,000,000.00).
    "put_schedule": Policy(
        _on(
            "commitment_id",
            _commitment,
            {"lines": [{"year": 2024, "amount": "400000.00"}, {"year": 2025, "amount": "600000"}]},
        ),
        200,
        WRITERS,
        FOREIGN,
    ),
    "put_commitments": Policy(_put_batch, 200, WRITERS, unreachable=FOREIGN_PARENT),
    # Payments follow their commitment: BDT's, in programme A. On a commitment named by the
    # partner's reference, out of reach reads as an unknown reference (422).
    "create_payment": Policy(_post_payment, 201, WRITERS, FOREIGN),
    "update_payment": Policy(_on("payment_id", _payment, {"label": "x"}), 200, WRITERS, FOREIGN),
    "delete_payment": Policy(_on("payment_id", _payment), 204, WRITERS, FOREIGN),
    "put_payment": Policy(_put_payment, 201, WRITERS, unreachable=FOREIGN_PARENT),
    "put_payments": Policy(_put_payments, 200, WRITERS, unreachable=FOREIGN_PARENT),
    # Milestones follow their action: staff keys reaching programme A; on an action out of
    # reach (in the path) the 404 of a missing one.
    "create_milestone": Policy(_post_milestone, 201, STAFF, OTHER_PROGRAMME),
    "update_milestone": Policy(
        _on("milestone_id", _milestone, {"title": "Renamed"}), 200, STAFF, OTHER_PROGRAMME
    ),
    "delete_milestone": Policy(_on("milestone_id", _milestone), 204, STAFF, OTHER_PROGRAMME),
    # An action's financing plan: whoever writes the action.
    "put_financing_plan": Policy(_on("action_id", _action, _PLAN), 201, STAFF, OTHER_PROGRAMME),
    "delete_financing_plan": Policy(_on("action_id", _planned_action), 204, STAFF, OTHER_PROGRAMME),
    # Indicators of programme A, and A's actions' records of them: staff reaching A.
    "create_indicator": Policy(
        _new(
            lambda ctx: {
                "code": _code(),
                "name": "New",
                "unit": "km",
                "programme_id": ctx.programme_a,
            }
        ),
        201,
        STAFF,
        unreachable=OTHER_PROGRAMME,
    ),
    "update_indicator": Policy(
        _on("indicator_id", _indicator, {"name": "Renamed"}), 200, STAFF, OTHER_PROGRAMME
    ),
    "delete_indicator": Policy(_on("indicator_id", _indicator), 204, STAFF, OTHER_PROGRAMME),
    "put_action_indicator": Policy(_put_record, 201, STAFF, OTHER_PROGRAMME),
    "delete_action_indicator": Policy(_delete_record, 204, STAFF, OTHER_PROGRAMME),
    # Values BDT measured on A's actions: whoever writes BDT's commitments.
    "put_indicator_value": Policy(_put_value, 201, WRITERS, unreachable=FOREIGN_PARENT),
    "put_indicator_values": Policy(_put_values, 200, WRITERS, unreachable=FOREIGN_PARENT),
    "create_api_key": Policy(_new(lambda ctx: {"name": "new", "role": "editor"}), 201, ADMIN),
    "delete_api_key": Policy(_on("api_key_id", _api_key), 204, ADMIN),
    # The action named by `action_id` is programme A's: out of scope_b's reach, as if missing.
    "import_scdl": Policy(_scdl_upload, 200, STAFF, unreachable=OTHER_PROGRAMME),
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


@pytest.fixture
async def ctx(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
) -> Ctx:
    """Programme A (seeded) and a programme B, made for the test."""
    listed = await client.get(
        app.url_path_for("list_programmes"), params={"code": settings.programme.first_code}
    )
    programme_a = str(listed.json()["items"][0]["id"])
    context = Ctx(client, app, admin, programme_a, "")
    body = _new_programme(context) | {"code": PROGRAMME_B}
    return Ctx(client, app, admin, programme_a, await _created(context, "create_programme", body))


async def _headers(
    identity: str, ctx: Ctx, make_key: KeyMaker, settings: Settings
) -> dict[str, str]:
    a = settings.programme.first_code
    if identity == "none":
        return {}
    if identity == "invalid":
        return {"Authorization": "Bearer rk_000000000000_not-a-key"}
    if identity == "admin":
        return ctx.admin
    keys: dict[str, Callable[[], Awaitable[dict[str, str]]]] = {
        "partner_a": lambda: make_key(Role.partner, "BDT"),
        "partner_b": lambda: make_key(Role.partner, "AMP"),
        "editor": lambda: make_key(Role.editor),
        "scoped_a": lambda: make_key(Role.editor, programmes=[a]),
        "scoped_b": lambda: make_key(Role.editor, programmes=[PROGRAMME_B]),
        "partner_a_in_b": lambda: make_key(Role.partner, "BDT", programmes=[PROGRAMME_B]),
    }
    return await keys[identity]()


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("route", sorted(POLICY))
async def test_write_route_answers_the_documented_status(
    ctx: Ctx, make_key: KeyMaker, settings: Settings, route: str, identity: str
) -> None:
    headers = await _headers(identity, ctx, make_key, settings)
    policy = POLICY[route]
    params, body = await policy.setup(ctx)
    response = await _send(
        ctx, METHODS[route], ctx.app.url_path_for(route, **params), body, headers
    )
    assert response.status_code == policy.expected(identity), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


def _out_of_scope() -> list[tuple[str, str]]:
    return [
        (route, identity)
        for route, policy in sorted(POLICY.items())
        for identity in sorted((policy.hidden | policy.unreachable) & FOREIGN_PARENT)
    ]


async def _send(
    ctx: Ctx, method: str, url: str, body: Body, headers: dict[str, str]
) -> httpx.Response:
    """The call, its body as JSON, or as a file with its query parameters."""
    if isinstance(body, Upload):
        return await ctx.c.request(
            method,
            url,
            params=body.query,
            content=body.content,
            headers=headers | {"Content-Type": body.content_type},
        )
    return await ctx.c.request(method, url, json=body, headers=headers)


def _missing(route: str, params: dict[str, str], body: Body) -> tuple[Call, str, str]:
    """The same call with the programme-owned resource it names replaced by a missing one;
    and that resource's id and the missing id."""
    gone = str(uuid.uuid4())
    item_param = f"{route.partition('_')[2]}_id"
    # A payment's commitment, a milestone's, a financing plan's or a record's action: in the path.
    for param in (item_param, "commitment_id", "action_id"):
        if param in params:
            return (params | {param: gone}, body), params[param], gone
    assert body is not None
    if isinstance(body, Upload):  # the action the file's grants go to, named in the query
        query = body.query | {"action_id": gone}
        return (params, replace(body, query=query)), body.query["action_id"], gone
    for field in ("programme_id", "chantier_id", "action_id"):
        if field in body:
            return (params, body | {field: gone}), body[field], gone
    # A payment names its commitment by reference, a measured value its action by code.
    for field in ("commitment_external_ref", "action_code"):
        if field in body:
            return (params, body | {field: gone}), body[field], gone
    item = body["items"][0]
    fields = ("commitment_external_ref", "action_code", "action_id", "chantier_id")
    field = next(f for f in fields if f in item)
    return (params, body | {"items": [item | {field: gone}]}), item[field], gone


@pytest.mark.parametrize(("route", "identity"), _out_of_scope())
async def test_out_of_scope_answers_like_missing(
    ctx: Ctx, make_key: KeyMaker, settings: Settings, route: str, identity: str
) -> None:
    """Another programme's resource, or a parent of another programme in the body, gets the
    very answer a missing one gets (but for the id it names)."""
    headers = await _headers(identity, ctx, make_key, settings)
    params, body = await POLICY[route].setup(ctx)
    (missing_params, missing_body), foreign_id, gone = _missing(route, params, body)
    method = METHODS[route]
    foreign = await _send(ctx, method, ctx.app.url_path_for(route, **params), body, headers)
    missing = await _send(
        ctx, method, ctx.app.url_path_for(route, **missing_params), missing_body, ctx.admin
    )
    assert foreign.status_code == POLICY[route].expected(identity), foreign.text
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    assert json.loads(foreign.text.replace(foreign_id, gone)) == missing.json()
