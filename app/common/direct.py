"""GET routes run without FastAPI's request handling: the same endpoint, its dependencies called
directly.

Around a GET-one's endpoint FastAPI spends about two thirds of the request's CPU in the process:
matching through the included routers, then solving the dependencies (per dependency a cache
key, a scope, an exit stack and a cancel scope) and validating the parameters through them
(README, "Read performance"). A `DirectRoute` stands in front of one FastAPI route
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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Request, Response
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette._utils import get_route_path
from starlette.datastructures import Headers, QueryParams, URLPath
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

Provider = Callable[[Request], Awaitable[Any]]
"""A stand-in for one dependency: its value for this request."""

_VALUES = "relance.direct.values"
"""The scope key of the parameters as validated when the route matched, by step."""


class NotDirect(TypeError):
    """A route that DirectRoute cannot run as FastAPI would (a body or a cookie parameter, a
    dependency that is not async, a callable that takes more than FastAPI resolves here)."""


class _Step:
    """One dependant of the route (the endpoint last): its path, query and header parameters,
    the steps of its own dependencies, and how it is called; a stand-in replaces a dependency
    and what it depends on."""

    def __init__(self, dependant: Dependant, stand_ins: Mapping[Any, Provider]) -> None:
        call: Any = dependant.call
        self.call = call
        self.name = dependant.name
        self.use_cache = dependant.use_cache
        self.stand_in = stand_ins.get(call)
        self.request_name = dependant.request_param_name
        self.params: tuple[Sequence[ModelField], ...] = (
            dependant.path_params, dependant.query_params, dependant.header_params,
        )  # fmt: skip
        self.steps: list[_Step] = []
        self.arguments: list[tuple[str, int]] = []  # (name, position of its step's value)
        self.generator = False
        if self.stand_in is not None:
            self.params = ((), (), ())
            return
        unsupported = (
            dependant.body_params
            or dependant.cookie_params
            or dependant.http_connection_param_name
            or dependant.websocket_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
        )
        if unsupported:
            raise NotDirect(f"{dependant.path}: {call!r} needs more than the request")
        self.generator = inspect.isasyncgenfunction(call)
        if not (self.generator or inspect.iscoroutinefunction(call)):
            raise NotDirect(f"{dependant.path}: {call!r} is not async")
        self.steps = [_Step(d, stand_ins) for d in dependant.dependencies]

    def flat(self) -> list[_Step]:
        """This step and those under it, dependencies first (the order FastAPI solves)."""
        return [*(s for step in self.steps for s in step.flat()), self]

    def validate(
        self, path: Mapping[str, str], query: QueryParams, headers: Headers
    ) -> dict[str, Any] | None:
        """Its parameters' values, validated with the route's own fields; None on an error."""
        values: dict[str, Any] = {}
        for fields, received in zip(self.params, (path, query, headers), strict=True):
            if fields:
                found, errors = request_params_to_args(fields, received)
                if errors:
                    return None
                values.update(found)
        return values


def _query_names(steps: list[_Step]) -> set[str]:
    return {field.alias for step in steps for field in step.params[1]}


class DirectRoute(BaseRoute):
    """The FastAPI route of `context` (a GET), run directly for the requests it answers as
    is; `stand_ins` give the value of the dependencies that take more than the request."""

    def __init__(self, context: RouteContext, stand_ins: Mapping[Any, Provider]) -> None:
        route = context.original_route
        if not isinstance(route, APIRoute) or context.methods != {"GET"}:
            raise NotDirect(f"{context.path}: only a FastAPI GET route runs directly")
        if route.response_class is not Response and not _returns_response(route):
            raise NotDirect(f"{context.path}: its endpoint must return a Response")
        self.route = route
        self.name = route.name
        self.path = route.path
        self.path_format = context.path_format
        self.methods = context.methods
        self._endpoint = route.endpoint
        self._path_regex = route.path_regex
        self._steps = _Step(context.dependant, stand_ins).flat()
        position = {id(step): i for i, step in enumerate(self._steps)}
        for step in self._steps:
            step.arguments = [(s.name, position[id(s)]) for s in step.steps if s.name]
        self._known = _query_names(self._steps)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A full match for a GET of this path whose parameters are all valid and all known;
        nothing otherwise: the FastAPI route behind answers the rest, and every error."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}
        found = self._path_regex.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        raw_query: bytes = scope["query_string"]
        query = QueryParams(raw_query)
        if b"\x00" in raw_query or b"%00" in raw_query or not self._known.issuperset(query):
            return Match.NONE, {}
        path = found.groupdict()
        headers = Headers(scope=scope)
        values = []
        for step in self._steps:
            validated = step.validate(path, query, headers)
            if validated is None:
                return Match.NONE, {}
            values.append(validated)
        return Match.FULL, {
            "endpoint": self._endpoint,
            "path_params": path,
            "route": self.route,  # logged and measured as the FastAPI route
            _VALUES: values,
        }

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.route.url_path_for(name, **path_params)  # the FastAPI route's URLs

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        solved: dict[Any, Any] = {}  # by callable, for the dependencies used more than once
        response: Any = None
        async with AsyncExitStack() as stack:
            results: list[Any] = []  # each step's value, in the order of self._steps
            for step, values in zip(self._steps, scope[_VALUES], strict=True):
                if step.use_cache and step.call in solved:
                    results.append(solved[step.call])
                    continue
                if step.stand_in is not None:
                    value = await step.stand_in(request)
                else:
                    kwargs = dict(values)
                    if step.request_name is not None:
                        kwargs[step.request_name] = request
                    for name, at in step.arguments:
                        kwargs[name] = results[at]
                    if step.generator:
                        value = await stack.enter_async_context(
                            asynccontextmanager(step.call)(**kwargs)
                        )
                    else:
                        value = await step.call(**kwargs)
                solved[step.call] = value
                results.append(value)
            response = results[-1]
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
