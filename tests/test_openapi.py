"""The OpenAPI document is the product frontend teams consume: every operation fully described."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_REF = "#/components/schemas/Problem"


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_every_operation_has_id_summary_tags_and_problem_errors(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    seen_ids: set[str] = set()
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    assert len(operations) >= 27
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), where
        assert op["operationId"] not in seen_ids, where
        seen_ids.add(op["operationId"])
        assert op.get("summary"), where
        assert op.get("tags"), where
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        if path.startswith("/v1/"):
            assert errors, f"{where} documents no error"
        for code, response in errors.items():
            content = response["content"]
            assert list(content) == ["application/problem+json"], (where, code)
            assert content["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF


async def test_write_operations_document_auth_and_validation_errors(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in ("post", "patch"):
                assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
            if method in ("patch", "delete"):
                assert {"404", "412"} <= set(op["responses"]), (method, path)


async def test_money_is_a_decimal_string_in_the_schema(client: httpx.AsyncClient) -> None:
    schemas = (await _document(client))["components"]["schemas"]
    amount = schemas["CommitmentCreate"]["properties"]["amount"]
    assert amount["type"] == "string"
    assert amount["pattern"] == r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
    assert schemas["CommitmentCreate"]["additionalProperties"] is False
    assert schemas["CommitmentCreate"].get("examples")


async def test_operation_ids_follow_verb_noun(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    for resource in ("priorit", "chantier", "action", "partner", "commitment"):
        for verb in ("list", "get", "create", "update", "delete"):
            assert any(i.startswith(f"{verb}_{resource}") for i in ids), (verb, resource)
