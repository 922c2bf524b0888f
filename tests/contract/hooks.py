"""Schemathesis extensions: every error response must be an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def problem_json(ctx: Any, response: Any, case: Any) -> None:
    """Every response >= 400 is application/problem+json with status, title and reason."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not str(content_type).startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}")
    body = response.json()
    for field in ("type", "title", "status", "detail", "reason"):
        if field not in body:
            raise AssertionError(f"problem document without {field!r}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} != {response.status_code}")
