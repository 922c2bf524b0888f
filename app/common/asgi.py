"""What the ASGI middlewares ask of a request's scope before anything reads it."""

from __future__ import annotations

from starlette.types import Scope


def declares_body(scope: Scope) -> bool:
    """Whether the request says a body follows (a non-zero Content-Length, or chunks): an
    HTTP/1.1 request with neither has none, so the steps that count, read or guard a body
    pass it straight on (a GET costs them nothing)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False
