"""/v1/exports: grant commitments in the French open-data formats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from app.common.http import READ_ERRORS, StrictRoute, problems
from app.opendata.schemas import GrantFilters
from app.opendata.service import scdl_csv, unpublishable_csv

router = APIRouter(prefix="/v1/exports", tags=["open data"], route_class=StrictRoute)
Filters = Annotated[GrantFilters, Depends()]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

SCDL_DESCRIPTION = """
The grant commitments (`instrument` = `grant`) in the SCDL « subventions » 2.1.1 format that
French public bodies publish (décret 2017-779): the schema's columns in its order, `,`-separated,
UTF-8, dates `YYYY-MM-DD`, `montant` with a decimal point.

A row per grant that can be published: committed, signed (`dateConvention` = `signed_on`), its
partner (the attributant) has a `siret`, and its beneficiary a name and a SIRET or RNA number.
Every other grant of the same filters is listed, with why, by
`/v1/exports/scdl-subventions/unpublishable` (also named in the `Link` header): none is
dropped silently.

Mappings: `nomAttribuant`/`idAttribuant` the partner's name and siret; `referenceDecision`
`decision_ref`; `objet` the label (the action's title when empty), cut at 256 characters;
`nature` `aide en numéraire`; `conditionsVersement` `unique` and `datesPeriodeVersement` from
the signature to the action's end date (the signature day when the action has none or ended
before); `notificationUE` `oui`/`non` from `eu_notified`; `pourcentageSubvention` 1;
`dispositifAide` the chantier's name. A text cell that a spreadsheet would run as a formula
(starting with `=`, `+`, `-`, `@`) is written with a leading `'`.
"""


@router.get(
    "/scdl-subventions",
    summary="Export grants as SCDL subventions 2.1.1 (CSV, streamed)",
    description=SCDL_DESCRIPTION,
    response_class=StreamingResponse,
    responses={**CSV, **problems(*READ_ERRORS)},
)
async def export_scdl_subventions(request: Request, filters: Filters) -> StreamingResponse:
    related = request.url_for("export_scdl_unpublishable").include_query_params(
        **request.query_params
    )
    return StreamingResponse(
        scdl_csv(request.app.state.sessionmaker, filters),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": 'attachment; filename="subventions.csv"',
            "Link": f'<{related.path}?{related.query}>; rel="related"',
        },
    )


@router.get(
    "/scdl-subventions/unpublishable",
    summary="The grants an SCDL export leaves out, and why (CSV, streamed)",
    description=(
        "Same filters as the export. One line per reason: the commitment, the SCDL column it "
        "cannot fill (`scdl_column`), the API field to set (`field`) and the reason."
    ),
    response_class=StreamingResponse,
    responses={**CSV, **problems(*READ_ERRORS)},
)
async def export_scdl_unpublishable(request: Request, filters: Filters) -> StreamingResponse:
    return StreamingResponse(
        unpublishable_csv(request.app.state.sessionmaker, filters),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="subventions-unpublishable.csv"'},
    )
