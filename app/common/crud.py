"""The five CRUD operations of a resource, declared once: list, get, create, update, delete.

Each feature's router.py describes its resource (schemas, filters, service, who may write) and
gets routes with stable operationIds (`list_commitments`, `create_commitment`…), documented
errors, ETags and `Location`. The signatures are built explicitly so that FastAPI sees the
feature's own types and the OpenAPI document names them.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from app.common.http import (
    DELETE_ERRORS,
    ITEM_WRITE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    IfMatch,
    IfNoneMatch,
    StrictRoute,
    created,
    not_modified,
    problems,
    with_etag,
)
from app.common.pagination import ListParams, Page, page_params
from app.common.principal import Principal
from app.common.service import ResourceService
from app.db import Session


@dataclass(frozen=True)
class ResourceSpec:
    plural: str  # URL segment, tag and operationId suffix: "commitments"
    singular: str  # "commitment"
    read: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]
    filters: type  # a dataclass whose fields are the list's query filters
    service: type[ResourceService[Any]]
    writer: Callable[..., Any]  # dependency returning the Principal allowed to write
    default_sort: str
    sortable: frozenset[str]
    delete_note: str = ""


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _typed(fn: Callable[..., Any], params: list[inspect.Parameter], returns: Any) -> None:
    fn.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]


def crud_router(spec: ResourceSpec) -> APIRouter:
    router = APIRouter(prefix=f"/v1/{spec.plural}", tags=[spec.plural], route_class=StrictRoute)
    item_id = f"{spec.singular}_id"
    page_model = Page[spec.read]  # type: ignore[name-defined]
    session = _param("session", Session)
    writer = _param("principal", Annotated[Principal, Depends(spec.writer)])
    identifier = _param(item_id, uuid.UUID)
    read = spec.read

    def service(request: Request, db: Any, principal: Principal | None = None) -> Any:
        return spec.service(db, request.app.state.settings, principal)

    async def list_items(request: Request, session: Any, params: ListParams, filters: Any) -> Any:
        items, next_cursor = await service(request, session).list(params, filters)
        return page_model.model_validate(
            {"items": items, "next_cursor": next_cursor}, from_attributes=True
        )

    async def get_item(
        request: Request, response: Response, session: Any, if_none_match: str | None, **ids: Any
    ) -> Any:
        obj = await service(request, session).get(ids[item_id])
        if not_modified(if_none_match, obj.etag):
            return Response(status_code=304, headers={"ETag": obj.etag})
        with_etag(response, obj)
        return read.model_validate(obj)

    async def create_item(
        request: Request, response: Response, session: Any, principal: Principal, data: Any
    ) -> Any:
        obj = await service(request, session, principal).create(data)
        created(response, request, obj)
        return read.model_validate(obj)

    async def update_item(
        request: Request,
        response: Response,
        session: Any,
        principal: Principal,
        data: Any,
        if_match: str | None,
        **ids: Any,
    ) -> Any:
        obj = await service(request, session, principal).update(ids[item_id], data, if_match)
        with_etag(response, obj)
        return read.model_validate(obj)

    async def delete_item(
        request: Request, session: Any, principal: Principal, if_match: str | None, **ids: Any
    ) -> None:
        await service(request, session, principal).delete(ids[item_id], if_match)

    common = [_param("request", Request), _param("response", Response)]
    _typed(
        list_items,
        [
            _param("request", Request),
            session,
            _param(
                "params",
                Annotated[ListParams, Depends(page_params(spec.default_sort, spec.sortable))],
            ),
            _param("filters", Annotated[spec.filters, Depends()]),
        ],
        page_model,
    )
    _typed(
        get_item, [*common, session, identifier, _param("if_none_match", IfNoneMatch, None)], read
    )
    _typed(create_item, [*common, session, writer, _param("data", spec.create)], read)
    _typed(
        update_item,
        [
            *common,
            session,
            writer,
            identifier,
            _param("data", spec.update),
            _param("if_match", IfMatch, None),
        ],
        read,
    )
    _typed(
        delete_item,
        [
            _param("request", Request),
            session,
            writer,
            identifier,
            _param("if_match", IfMatch, None),
        ],
        None,
    )

    one, many = spec.singular.replace("_", " "), spec.plural.replace("_", " ")
    router.add_api_route(
        "",
        list_items,
        methods=["GET"],
        name=f"list_{spec.plural}",
        summary=f"List {many}",
        response_model=page_model,
        responses=problems(*READ_ERRORS),
    )
    router.add_api_route(
        f"/{{{item_id}}}",
        get_item,
        methods=["GET"],
        name=f"get_{spec.singular}",
        summary=f"Get a {one}",
        response_model=read,
        responses={
            304: {"description": "Not modified (If-None-Match)"},
            **problems(*READ_ERRORS, 404),
        },
    )
    router.add_api_route(
        "",
        create_item,
        methods=["POST"],
        name=f"create_{spec.singular}",
        summary=f"Create a {one}",
        status_code=status.HTTP_201_CREATED,
        response_model=read,
        responses=problems(*WRITE_ERRORS),
    )
    router.add_api_route(
        f"/{{{item_id}}}",
        update_item,
        methods=["PATCH"],
        name=f"update_{spec.singular}",
        summary=f"Update a {one} (only the fields sent)",
        response_model=read,
        responses=problems(*ITEM_WRITE_ERRORS),
    )
    router.add_api_route(
        f"/{{{item_id}}}",
        delete_item,
        methods=["DELETE"],
        name=f"delete_{spec.singular}",
        summary=f"Delete a {one}",
        description=spec.delete_note,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=problems(*DELETE_ERRORS),
    )
    return router
