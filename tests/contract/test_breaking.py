"""The breaking-change checker, on small synthetic documents: each rule fires, and only then."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.breaking import Change, acknowledged_in, breaking_changes, main

Doc = dict[str, Any]


def _json(ref: str) -> Doc:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


PROBLEM = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}


def _base() -> Doc:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "operationId": "list_items",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                        {
                            "name": "tag",
                            "in": "query",
                            "schema": {
                                "anyOf": [
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Tag"},
                                    },
                                    {"type": "null"},
                                ]
                            },
                        },
                    ],
                    "responses": {"200": _json("Page"), "400": PROBLEM},
                },
                "post": {
                    "operationId": "create_item",
                    "security": [{"HTTPBearer": []}],
                    "requestBody": {"required": True, **_json("ItemCreate")},
                    "responses": {"201": _json("Item"), "409": PROBLEM},
                },
            },
            "/items/{item_id}": {
                "get": {
                    "operationId": "get_item",
                    "parameters": [
                        {
                            "name": "item_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                **_json("Item")["content"],
                                "text/csv": {"schema": {"type": "string"}},
                            }
                        },
                        "404": PROBLEM,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Status": {"type": "string", "enum": ["planned", "committed"]},
                "Tag": {"type": "string", "enum": ["red", "blue"]},
                "Item": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "amount": {"type": "string", "format": "decimal"},
                        "count": {"type": "integer"},
                        "note": NULLABLE_STRING,
                        "status": {"$ref": "#/components/schemas/Status"},
                        "flags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                        "parent": {
                            "anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]
                        },
                    },
                    "required": ["id", "amount", "count", "note", "status", "flags", "parent"],
                },
                "ItemCreate": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "amount": {"type": "string"},
                        "count": {"type": "integer"},
                        "note": NULLABLE_STRING,
                        "status": {"$ref": "#/components/schemas/Status", "default": "planned"},
                    },
                    "required": ["amount"],
                },
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "next_cursor": NULLABLE_STRING,
                    },
                    "required": ["items", "next_cursor"],
                },
            }
        },
    }


Mutation = Callable[[Doc], object]


def _schemas(doc: Doc) -> Doc:
    schemas: Doc = doc["components"]["schemas"]
    return schemas


def _op(doc: Doc, path: str, method: str) -> Doc:
    operation: Doc = doc["paths"][path][method]
    return operation


def _param(doc: Doc, name: str) -> Doc:
    return next(p for p in _op(doc, "/items", "get")["parameters"] if p["name"] == name)


def _rename_status(doc: Doc) -> None:
    _schemas(doc)["State"] = _schemas(doc).pop("Status")
    for name in ("Item", "ItemCreate"):
        _schemas(doc)[name]["properties"]["status"]["$ref"] = "#/components/schemas/State"


BREAKING: list[tuple[str, Mutation, str]] = [
    ("path", lambda d: d["paths"].pop("/items/{item_id}"), "GET /items/{item_id}: path removed"),
    ("operation", lambda d: d["paths"]["/items"].pop("post"), "POST /items: operation removed"),
    (
        "operation id",
        lambda d: _op(d, "/items", "get").update(operationId="items"),
        "GET /items: operationId 'list_items' -> 'items'",
    ),
    (
        "auth",
        lambda d: _op(d, "/items", "get").update(security=[{"HTTPBearer": []}]),
        "GET /items: now requires authentication",
    ),
    (
        "response field",
        lambda d: _schemas(d)["Item"]["properties"].pop("amount"),
        "Item: property 'amount' removed",
    ),
    (
        "response field optional",
        lambda d: _schemas(d)["Item"]["required"].remove("id"),
        "Item: property 'id' no longer always present",
    ),
    (
        "response field type",
        lambda d: _schemas(d)["Item"]["properties"]["amount"].update(type="number"),
        "Item.amount: may now be number",
    ),
    (
        "response field nullable",
        lambda d: _schemas(d)["Item"]["properties"].update(id=NULLABLE_STRING),
        "Item.id: may now be null",
    ),
    (
        "enum value in a shared component",
        lambda d: _schemas(d)["Status"]["enum"].remove("committed"),
        'Status: enum value "committed" removed',
    ),
    (
        "enum value in response array items",
        lambda d: _schemas(d)["Item"]["properties"]["flags"]["items"]["enum"].remove("b"),
        'Item.flags[]: enum value "b" removed',
    ),
    (
        "enum value in a request parameter",
        lambda d: _schemas(d).update(Tag={"type": "string", "enum": ["red"]}),
        'Tag: enum value "blue" removed',
    ),
    (
        "request now restricted to an enum",
        lambda d: _schemas(d)["ItemCreate"]["properties"]["amount"].update(enum=["1.00"]),
        'ItemCreate.amount: now restricted to ["1.00"]',
    ),
    (
        "new required request field",
        lambda d: (
            _schemas(d)["ItemCreate"]["properties"].update(year={"type": "integer"}),
            _schemas(d)["ItemCreate"]["required"].append("year"),
        ),
        "ItemCreate: property 'year' added as required",
    ),
    (
        "request field now required",
        lambda d: _schemas(d)["ItemCreate"]["required"].append("note"),
        "ItemCreate: property 'note' is now required",
    ),
    (
        "request field removed where unknown fields are refused",
        lambda d: _schemas(d)["ItemCreate"]["properties"].pop("note"),
        "ItemCreate: property 'note' removed (unknown fields are refused)",
    ),
    (
        "request field type narrowed",
        lambda d: _schemas(d)["ItemCreate"]["properties"].update(note={"type": "string"}),
        "ItemCreate.note: no longer accepts null",
    ),
    (
        "new required parameter",
        lambda d: _op(d, "/items", "get")["parameters"].append(
            {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}}
        ),
        "GET /items: new required query parameter 'year'",
    ),
    (
        "parameter now required",
        lambda d: _param(d, "limit").update(required=True),
        "GET /items: query parameter 'limit' is now required",
    ),
    (
        "parameter removed",
        lambda d: _op(d, "/items", "get")["parameters"].remove(_param(d, "limit")),
        "GET /items: query parameter 'limit' removed",
    ),
    (
        "parameter type",
        lambda d: _param(d, "limit").update(schema={"type": "string"}),
        "GET /items query parameter 'limit': no longer accepts integer",
    ),
    (
        "success status",
        lambda d: _op(d, "/items", "post")["responses"].pop("201"),
        "POST /items: response 201 removed",
    ),
    (
        "response media type",
        lambda d: _op(d, "/items/{item_id}", "get")["responses"]["200"]["content"].pop("text/csv"),
        "GET /items/{item_id}: response 200 no longer returns text/csv",
    ),
    (
        "request media type",
        lambda d: _op(d, "/items", "post").update(
            requestBody={"content": {"application/merge-patch+json": {"schema": {}}}}
        ),
        "POST /items: request body no longer accepts application/json",
    ),
    ("component renamed", _rename_status, "components.schemas.Status: schema removed"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in BREAKING], ids=[c[0] for c in BREAKING]
)
def test_each_rule_reports_its_breaking_change(mutate: Mutation, expected: str) -> None:
    new = _base()
    mutate(new)
    assert [str(c) for c in breaking_changes(_base(), new)] == [expected]


COMPATIBLE: list[tuple[str, Mutation]] = [
    ("optional request field", lambda d: _schemas(d)["ItemCreate"]["properties"].update(x={})),
    ("response field", lambda d: _schemas(d)["Item"]["properties"].update(x={"type": "string"})),
    ("path", lambda d: d["paths"].update({"/other": {"get": {"responses": {}}}})),
    (
        "optional parameter",
        lambda d: _op(d, "/items", "get")["parameters"].append(
            {"name": "year", "in": "query", "schema": {"type": "integer"}}
        ),
    ),
    ("header parameter removed", lambda d: _op(d, "/items", "get")["parameters"].pop(1)),
    ("error status removed", lambda d: _op(d, "/items", "post")["responses"].pop("409")),
    ("response enum value added", lambda d: _schemas(d)["Status"]["enum"].append("cancelled")),
    ("request field optional", lambda d: _schemas(d)["ItemCreate"]["required"].clear()),
    (
        "request type widened",
        lambda d: _schemas(d)["ItemCreate"]["properties"].update(count={"type": "number"}),
    ),
    (
        "response type narrowed",
        lambda d: _schemas(d)["Item"]["properties"].update(note={"type": "string"}),
    ),
    ("description", lambda d: _schemas(d)["Item"].update(description="An item.")),
    ("authentication dropped", lambda d: _op(d, "/items", "post").pop("security")),
]


@pytest.mark.parametrize("mutate", [c[1] for c in COMPATIBLE], ids=[c[0] for c in COMPATIBLE])
def test_compatible_changes_are_not_reported(mutate: Mutation) -> None:
    new = _base()
    mutate(new)
    assert breaking_changes(_base(), new) == []


def test_several_changes_are_all_reported_once_and_sorted() -> None:
    new = _base()
    _schemas(new)["Status"]["enum"].remove("committed")  # reached by requests and responses
    new["paths"].pop("/items/{item_id}")
    assert [str(c) for c in breaking_changes(_base(), new)] == [
        "GET /items/{item_id}: path removed",
        'Status: enum value "committed" removed',
    ]


def test_the_real_snapshot_has_no_break_against_itself() -> None:
    snapshot = Path(__file__).resolve().parents[2] / "contract" / "openapi.json"
    document = json.loads(snapshot.read_text(encoding="utf-8"))
    assert breaking_changes(document, copy.deepcopy(document)) == []


def test_a_change_is_acknowledged_by_its_line_verbatim() -> None:
    changes = [Change("GET /a", "path removed"), Change("Item", "property 'x' removed")]
    text = "- `GET /a: path removed`: merged into /b (2026-01).\n"
    assert acknowledged_in(text, changes) == ([changes[0]], [changes[1]])


def test_cli_fails_on_a_break_unless_acknowledged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, ack = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "BREAKING.md"
    changed = _base()
    changed["paths"].pop("/items/{item_id}")
    old.write_text(json.dumps(_base()))
    new.write_text(json.dumps(changed))

    assert main([str(old), str(new)]) == 1
    assert "GET /items/{item_id}: path removed" in capsys.readouterr().out

    ack.write_text("- `GET /items/{item_id}: path removed`: use GET /items?id=.\n")
    assert main([str(old), str(new), "--acknowledged", str(ack)]) == 0
    assert main([str(old), str(old)]) == 0
