"""GET routes run without FastAPI's request handling: the same endpoint, its dependencies called
directly.

Around a GET-one's endpoint FastAPI spends about two thirds of the request's CPU in the process:
matching through the included routers, then solving the dependencies (per dependency a cache
key, a scope, an exit stack and a cancel scope) and validating the parameters through them
(bench/README.md, "The read path"). A `DirectRoute` stands in front of one FastAPI route
whose parameters are path parameters and headers and whose dependencies take the request
alone (the session, the settings) or have a stand-in here (the reader check, whose principal
the authentication middleware already resolved): for a request of its method with no query
string and valid path parameters, it validates them with the route's own fields, calls the
route's dependencies and its endpoint as FastAPI would, and sends the Response the endpoint
returns. Any other request (a query string, an id that is not one, another method) is left to
the FastAPI route behind it, which answers it and its errors as ever.

It is a route like the others: every middleware of the pipeline runs before it, the request is
logged and measured under the FastAPI route's template (`scope["route"]` is that route), and
an error the endpoint raises reaches the same handlers. The OpenAPI document keeps describing
the FastAPI route (tests/common/test_direct_routes.py holds both answering alike).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

Provider = Callable[[Request], Awaitable[Any]]
"""A stand-in for one dependency: its value for this request."""

_PATH_VALUES = "relance.direct.path_values"
"""The scope key of the path parameters as validated when the route matched."""


class NotDirect(TypeError):
    """A route that DirectRoute cannot run as FastAPI would (a query or a body parameter, a
    dependency that needs more than the request)."""


class _Dependency:
    """One of the route's dependencies: how to get its value, and the name the endpoint takes
    it by (None: run for its effect, a router's dependency)."""

    def __init__(self, dependant: Dependant, stand_ins: Mapping[Any, Provider]) -> None:
        call: Any = dependant.call
        self.name = dependant.name
        self.provider: Callable[[Request], Any] = stand_ins.get(call) or call
        self.generator = False
        if call not in stand_ins:
            if not _takes_request_only(dependant):
                raise NotDirect(f"{dependant.path}: {call!r} needs more than the request")
            self.generator = inspect.isasyncgenfunction(call)
            if not (self.generator or inspect.iscoroutinefunction(call)):
                raise NotDirect(f"{dependant.path}: {call!r} is not async")
            if self.generator:  # entered and left around the endpoint, as FastAPI does
                self.provider = asynccontextmanager(call)


def _takes_request_only(dependant: Dependant) -> bool:
    return (
        dependant.request_param_name is not None
        and len(inspect.signature(dependant.call).parameters) == 1  # type: ignore[arg-type]
        and not dependant.dependencies
        and not (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
        )
    )


class DirectRoute(BaseRoute):
    """The FastAPI route of `context` (a GET with path and header parameters only), run
    directly for the requests it answers as is; `stand_ins` give the value of the
    dependencies that take more than the request."""

    def __init__(self, context: RouteContext, stand_ins: Mapping[Any, Provider]) -> None:
        route = context.original_route
        dependant: Dependant = context.dependant
        if not isinstance(route, APIRoute) or context.methods != {"GET"}:
            raise NotDirect(f"{context.path}: only a FastAPI GET route runs directly")
        if dependant.query_params or dependant.body_params or dependant.cookie_params:
            raise NotDirect(f"{context.path}: takes query, body or cookie parameters")
        if route.response_class is not Response and not _returns_response(route):
            raise NotDirect(f"{context.path}: its endpoint must return a Response")
        self.route = route
        self.name = route.name
        self.path = route.path
        self.path_format = context.path_format
        self.methods = context.methods
        self._endpoint = route.endpoint
        self._path_regex = route.path_regex
        self._path_params = dependant.path_params
        self._header_params = dependant.header_params
        self._dependencies = [_Dependency(d, stand_ins) for d in dependant.dependencies]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]  # the FastAPI route knows which are refused, and how
        ):
            return Match.NONE, {}
        found = self._path_regex.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        raw = found.groupdict()
        values, errors = request_params_to_args(self._path_params, raw)
        if errors:  # the FastAPI route answers them
            return Match.NONE, {}
        return Match.FULL, {
            "endpoint": self._endpoint,
            "path_params": raw,
            "route": self.route,  # logged and measured as the FastAPI route
            _PATH_VALUES: values,
        }

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.route.url_path_for(name, **path_params)  # the FastAPI route's URLs

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        kwargs: dict[str, Any] = dict(scope[_PATH_VALUES])
        if self._header_params:
            headers, errors = request_params_to_args(self._header_params, request.headers)
            if errors:
                raise RequestValidationError(errors)
            kwargs.update(headers)
        async with AsyncExitStack() as stack:
            for dependency in self._dependencies:
                provided = dependency.provider(request)
                if dependency.generator:
                    value = await stack.enter_async_context(provided)
                else:
                    value = await provided
                if dependency.name is not None:
                    kwargs[dependency.name] = value
            response = await self._endpoint(**kwargs)
        if not isinstance(response, Response):
            raise TypeError(f"{self.path}: the endpoint returned {type(response).__name__}")
        await response(scope, receive, send)


def _returns_response(route: APIRoute) -> bool:
    annotation = inspect.signature(route.endpoint, eval_str=True).return_annotation
    return isinstance(annotation, type) and issubclass(annotation, Response)


def direct_routes(
    routes: list[BaseRoute], names: tuple[str, ...], stand_ins: Mapping[Any, Provider]
) -> list[DirectRoute]:
    """The DirectRoutes of the FastAPI routes named `names` among `routes` (the app's, those
    of included routers too); every name must be a route that runs directly."""
    contexts = {
        context.name: context
        for context in iter_route_contexts(routes)
        if isinstance(context.original_route, APIRoute)
    }
    missing = [name for name in names if name not in contexts]
    if missing:
        raise NotDirect(f"no route named {missing}")
    return [DirectRoute(contexts[name], stand_ins) for name in names]
