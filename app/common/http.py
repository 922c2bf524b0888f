"""HTTP plumbing shared by every router: strict query strings, ETags, documented problems."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.config import Settings
from app.errors import (
    ErrorItem,
    InvalidParameter,
    PreconditionFailed,
    UnsupportedMediaType,
)
from app.errors import problems as problems  # re-exported: routers document errors from here


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class StrictRoute(APIRoute):
    """An APIRoute that answers 400 to a query parameter it does not declare."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = _query_names(self.dependant)
        takes_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            if takes_body and not _is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType("Send the body as application/json.")
            if "\x00" in request.url.query or "%00" in request.url.query:
                # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query.
                raise InvalidParameter("A query parameter holds a NUL character.")
            unknown = sorted(set(request.query_params.keys()) - known)
            if unknown:
                raise InvalidParameter(
                    f"Unknown query parameter: {', '.join(unknown)}.",
                    errors=[
                        ErrorItem(parameter=n, detail="is not a known parameter") for n in unknown
                    ],
                )
            return await handler(request)

        return strict_handler


READ_ERRORS = (400, 401, 429, 503)
WRITE_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 503)
ITEM_WRITE_ERRORS = (*WRITE_ERRORS, 404, 412)
DELETE_ERRORS = (400, 401, 403, 404, 409, 412, 429, 503)


def _tags(header: str | None) -> Iterable[str]:
    return (t.strip() for t in (header or "").split(",") if t.strip())


def check_if_match(if_match: str | None, etag: str) -> None:
    """Honour If-Match (strong comparison, `*` matches any current version)."""
    if if_match is None:
        return
    tags = set(_tags(if_match))
    if "*" in tags or etag in tags:
        return
    raise PreconditionFailed(
        "The resource changed since you read it: fetch it again and retry with its new ETag.",
        headers={"ETag": etag},
    )


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you last read; the write is refused with 412 if it is stale.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="An ETag you hold; 304 if it is still current."),
]


class Tagged(Protocol):
    @property
    def etag(self) -> str: ...


class HasEtag(Tagged, Protocol):
    id: uuid.UUID


def is_current(if_none_match: str | None, obj: Tagged | str) -> bool:
    """Whether If-None-Match names the version the client would get (then answer 304): that
    of `obj`, or this ETag."""
    if if_none_match is None:
        return False
    etag = obj if isinstance(obj, str) else obj.etag
    tags = set(_tags(if_none_match))
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def not_modified(obj: Tagged | str) -> Response:
    return Response(status_code=304, headers={"ETag": obj if isinstance(obj, str) else obj.etag})


def with_etag(response: Response, obj: Tagged) -> None:
    response.headers["ETag"] = obj.etag


def created(response: Response, request: Request, obj: HasEtag) -> None:
    """201 headers: where the new resource lives, and its ETag."""
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{obj.id}"
    with_etag(response, obj)


T = TypeVar("T")


def from_query(model: type[T]) -> Callable[..., Awaitable[T]]:
    """`Depends(from_query(Filters))`: the dataclass read from the query string exactly as
    `Depends(Filters)` would (the same parameters, the same schema), but built on the event loop:
    FastAPI calls a class, or any plain function, in a worker thread, a thread hop per request
    for what is a constructor call."""

    async def build(**values: Any) -> T:
        return model(**values)

    build.__signature__ = inspect.signature(model, eval_str=True)  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = model.__name__
    build.__doc__ = model.__doc__
    return build


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]
"""The application's settings (those `create_app` was given), for a route to hand its service."""

GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match)"},
    **problems(*READ_ERRORS, 404),
}
