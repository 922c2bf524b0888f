"""The OpenAPI document is the product frontend teams consume: every operation fully described."""

from __future__ import annotations

import re
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
            # Each status its own schema: the Problem, with `reason` an enum of that status.
            assert content["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF + code


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


async def test_summaries_are_sentences_with_the_right_article(client: httpx.AsyncClient) -> None:
    """ "Create a action" was in five summaries."""
    document = await _document(client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            summary = operation["summary"]
            assert not re.search(r"\ba [aeiouAEIOU]", summary), f"{method} {path}: {summary!r}"


async def test_every_post_declares_idempotency_key_and_the_headers_clients_read(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    posts = [
        (p, op) for p, item in document["paths"].items() for m, op in item.items() if m == "post"
    ]
    assert len(posts) >= 7
    for path, op in posts:
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in names, path
        if "201" not in op["responses"]:  # an import answers its report, 200
            continue
        created = op["responses"]["201"]["headers"]
        assert created["Location"]["required"] is True, path
        assert "Idempotent-Replayed" in created, path
    commitment = document["paths"]["/v1/commitments/{commitment_id}"]
    assert commitment["get"]["responses"]["200"]["headers"]["ETag"]["required"] is True
    assert commitment["patch"]["responses"]["200"]["headers"]["ETag"]["required"] is True
    for item in document["paths"].values():
        for op in item.values():
            for code, response in op["responses"].items():
                assert response["headers"]["X-Request-ID"]["required"] is True
                if code in ("429", "503"):
                    assert "Retry-After" in response["headers"]


async def test_reason_is_an_enum_per_status_holding_every_reason_of_that_status(
    client: httpx.AsyncClient,
) -> None:
    from app.docs.openapi import reasons_by_status

    schemas = (await _document(client))["components"]["schemas"]
    assert schemas["Problem404"]["properties"]["reason"]["enum"] == ["NOT_FOUND"]
    conflict = schemas["Problem409"]["properties"]["reason"]["enum"]
    assert {"CONFLICT", "STILL_REFERENCED", "REQUEST_IN_PROGRESS"} <= set(conflict)
    assert set(schemas["Problem503"]["properties"]["reason"]["enum"]) == {
        "SERVICE_BUSY", "SERVICE_UNAVAILABLE",
    }  # fmt: skip
    for code, reasons in reasons_by_status().items():
        assert schemas[f"Problem{code}"]["properties"]["reason"]["enum"] == reasons


async def test_public_reads_need_no_key_and_writes_do(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    for path, item in document["paths"].items():
        for method, op in item.items():
            if not path.startswith("/v1/"):
                continue
            if method == "get" and path != "/v1/api-keys":
                assert {} in op["security"], f"{method} {path} shows a lock"
            else:
                assert {} not in op["security"], f"{method} {path} needs a key"
