"""/v1/changes (the change feed) and /v1/{resource}/{id}/history (who changed what, when)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.changes.schemas import HISTORY_PAGES, ChangePage, HistoryPage, ResourceName
from app.changes.service import ChangeService
from app.common.http import READ_ERRORS, StrictRoute, problems
from app.db import ReplicaReads, Session
from app.errors import CursorExpired

router = APIRouter(route_class=StrictRoute)

Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The `next_cursor` of the previous page; omit to start."),
]


@router.get(
    "/v1/changes",
    tags=["sync"],
    summary="Every create, update and delete, in commit order",
    description=(
        "Poll with the last `next_cursor` to receive every change after it, exactly once and "
        "in the order transactions committed, even when a long batch commits after shorter "
        "writes. A delete is a tombstone (`data: null`). An unknown or expired cursor is a 410: "
        "resync by reading the lists, then follow the feed from a fresh start."
    ),
    response_model=ChangePage,
    responses=problems(*READ_ERRORS, 410),
)
async def list_changes(
    reads: ReplicaReads,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size, 1 to 1000.")] = 100,
    resource: Annotated[
        list[ResourceName] | None, Query(description="Only these resources (repeatable).")
    ] = None,
) -> Response:
    try:
        page = await ChangeService(reads.session).feed(cursor, limit, resource)
    except CursorExpired:
        if not reads.on_replica:
            raise
        # A cursor the replica has not replayed yet (the primary issued it): the primary
        # answers, so the feed neither skips nor answers 410 while the replica catches up.
        async with reads.primary() as session:
            page = await ChangeService(session).feed(cursor, limit, resource)
    # Already validated item by item by the read models: serialised once, not validated again.
    return Response(page.model_dump_json(), media_type="application/json")


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _history_route(resource: ResourceName) -> None:
    singular = {"priorities": "priority"}.get(resource.value, resource.value.removesuffix("s"))

    async def get_history(
        session: Session,
        resource_id: uuid.UUID,
        cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size, 1 to 500.")] = 100,
    ) -> HistoryPage[Any]:
        return await ChangeService(session).history(resource, resource_id, cursor, limit)

    noun = singular.replace("_", " ")
    router.add_api_route(
        f"/v1/{resource.value}/{{resource_id}}/history",
        get_history,
        methods=["GET"],
        name=f"get_{singular}_history",
        summary=f"Every version of {_article(noun)} {noun}: who, when, what changed",
        description="Append-only; still answers after the resource was deleted.",
        tags=[resource.value],
        response_model=HISTORY_PAGES[resource],
        responses=problems(*READ_ERRORS, 404),
    )


for _resource in ResourceName:
    _history_route(_resource)
