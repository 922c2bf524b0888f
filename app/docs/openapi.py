"""What FastAPI cannot say by itself in the OpenAPI document, added once for every operation,
so that a generated client sees the contract precisely:

- `Idempotency-Key` on every POST and PUT (the pipeline's idempotency layer reads it, not
  the route);
- the response headers clients read: `X-Request-ID` on every answer, `ETag` on a resource's
  200 and 201, `Location` on a 201, `Idempotent-Replayed` on a POST's or PUT's replay,
  `Retry-After` on 409 (a request in progress), 429 and 503; `Relance-Read-After` on a
  write's success (when the service reads from a replica);
- `reason` as an enum per status (`Problem404`…), from the error types that exist;
- public reads without a security requirement: the bearer key is optional there (it is
  required only when the service runs with `AUTH__READ_REQUIRES_KEY=true`).
"""

from __future__ import annotations

from typing import Any

from app.errors import AppError
from app.errors.problem import PROBLEM_JSON
from app.errors.statuses import STATUSES

IDEMPOTENT = ("post", "put")
"""The methods the idempotency layer serves (app.idempotency.middleware.METHODS)."""

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any string of 1 to 255 printable characters, new for each operation and kept for its "
        "retries: a retry with the same key and body gets the first answer "
        "(`Idempotent-Replayed: true`) instead of a second write; the same key with another "
        "body is 422 `IDEMPOTENCY_KEY_REUSED`. Kept `IDEMPOTENCY__TTL_HOURS` (24 h)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "7d1c9e0a-2f4b-4c55-9a43-1f0e2b3c4d5e",
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the one sent, if valid, else a new one): quote it.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The resource's strong ETag: send it in `If-Match` to change it.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the resource just created lives (a path).",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the first answer replayed for an `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Relance-Read-After": {
        "description": (
            "The primary's WAL position just after this write's commit (present when the "
            "service reads lists, aggregates, exports and the feed from a replica): send it "
            "back as the `Relance-Read-After` header of your next reads to see this write."
        ),
        "schema": {"type": "string", "pattern": "^[0-9A-F]{1,8}/[0-9A-F]{1,8}$"},
    },
}


def reasons_by_status() -> dict[int, list[str]]:
    """Every reason an answer of each status may carry: the status's default and those of the
    error types defined anywhere in the service (imported by the time the app is built)."""
    found: dict[int, set[str]] = {code: {status.reason} for code, status in STATUSES.items()}
    pending: list[type[AppError]] = [AppError]
    while pending:
        error = pending.pop()
        found.setdefault(error.status, set()).add(error.reason)
        pending.extend(error.__subclasses__())
    return {code: sorted(reasons) for code, reasons in sorted(found.items())}


def _header(name: str, required: bool = False) -> dict[str, Any]:
    return {**HEADERS[name], "required": required}


def _problem_schemas(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for code, reasons in reasons_by_status().items():
        components[f"Problem{code}"] = {
            "title": f"Problem{code}",
            "description": f"A problem+json answer of status {code}.",
            "allOf": [{"$ref": "#/components/schemas/Problem"}],
            "type": "object",
            "properties": {
                "status": {"type": "integer", "enum": [code]},
                "reason": {"type": "string", "enum": reasons},
            },
            "required": ["status", "reason"],
        }


def _refine_operation(method: str, operation: dict[str, Any], public_read: bool) -> None:
    responses: dict[str, dict[str, Any]] = operation.get("responses", {})
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _header("X-Request-ID", required=True)
        status = int(code)
        problem = response.get("content", {}).get(PROBLEM_JSON)
        if problem is not None and status >= 400:
            problem["schema"] = {"$ref": f"#/components/schemas/Problem{status}"}
        if status in (429, 503) or (status == 409 and method in IDEMPOTENT):
            headers["Retry-After"] = _header("Retry-After", required=status == 429)
        resource_answer = (method == "get" and "304" in responses) or method in ("patch", "put")
        if (status == 201 or (status == 200 and resource_answer)) and _returns_a_resource(response):
            headers["ETag"] = _header("ETag", required=True)
        if status == 201 and method in ("post", "put"):
            headers["Location"] = _header("Location", required=method == "post")
        if method in IDEMPOTENT and 200 <= status < 300:
            headers["Idempotent-Replayed"] = _header("Idempotent-Replayed")
        if method in ("post", "put", "patch", "delete") and 200 <= status < 300:
            headers["Relance-Read-After"] = _header("Relance-Read-After")
    if method in IDEMPOTENT:
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == "Idempotency-Key" for p in parameters):
            parameters.append(IDEMPOTENCY_KEY)
    if public_read and operation.get("security"):
        # An empty requirement: the key is optional (a partner may still send its own).
        operation["security"] = [{}, *operation["security"]]


def _returns_a_resource(response: dict[str, Any]) -> bool:
    """A resource answer has an `etag` field; a batch report or a summary has none."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return "$ref" in schema and schema["$ref"].rsplit("/", 1)[-1].endswith("Read")


def refine(schema: dict[str, Any]) -> None:
    _problem_schemas(schema)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            # A read anyone may make: a GET under /v1/ that no role check guards (no 403).
            public_read = (
                method == "get"
                and path.startswith("/v1/")
                and "403" not in operation.get("responses", {})
            )
            _refine_operation(method, operation, public_read)
