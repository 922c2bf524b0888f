"""/v1/territories: the territorial referential (communes, EPCI, départements, régions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.common.http import (
    READ_ERRORS,
    IfNoneMatch,
    StrictRoute,
    from_query,
    is_current,
    not_modified,
    problems,
    with_etag,
)
from app.common.pagination import ListParams, Page, page_params
from app.db import ReplicaSession, Session
from app.models import Territory
from app.territories.schemas import (
    REFERENCE,
    REFERENCE_PATTERN,
    TerritoryFilters,
    TerritoryRead,
)
from app.territories.service import TerritoryService

router = APIRouter(prefix="/v1/territories", tags=["territories"], route_class=StrictRoute)

LIST_DESCRIPTION = """
The referential shipped with the service (INSEE and DGCL data through Etalab's
`@etalab/decoupage-administratif`; its version, vintage and hashes are in
`app/territories/data/manifest.json`) and loaded by `relance seed`: current communes, municipal
arrondissements of Paris, Lyon and Marseille, delegated and associated communes, EPCI à
fiscalité propre, départements and régions. A territory that a newer vintage no longer lists
is kept with `current: false`.
"""


@router.get(
    "",
    name="list_territories",
    summary="List territories",
    description=LIST_DESCRIPTION,
    response_model=Page[TerritoryRead],
    responses=problems(*READ_ERRORS),
)
async def list_territories(
    session: ReplicaSession,
    params: Annotated[ListParams, Depends(page_params("code", Territory.sortable))],
    filters: Annotated[TerritoryFilters, Depends(from_query(TerritoryFilters))],
) -> Page[TerritoryRead]:
    items, next_cursor = await TerritoryService(session).list(params, filters)
    return Page[TerritoryRead](
        items=[TerritoryRead.model_validate(t) for t in items], next_cursor=next_cursor
    )


@router.get(
    "/{code}",
    name="get_territory",
    summary="Get a territory",
    description=REFERENCE,
    response_model=TerritoryRead,
    responses={304: {"description": "Not modified (If-None-Match)"}, **problems(*READ_ERRORS, 404)},
)
async def get_territory(
    session: Session,
    response: Response,
    code: Annotated[
        str, Path(pattern=REFERENCE_PATTERN, examples=["13055"], description=REFERENCE)
    ],
    if_none_match: IfNoneMatch = None,
) -> TerritoryRead | Response:
    territory = TerritoryRead.model_validate(await TerritoryService(session).get(code))
    if is_current(if_none_match, territory):
        return not_modified(territory)
    with_etag(response, territory)
    return territory
