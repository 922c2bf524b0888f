"""/v1/exports: grant commitments in the French open-data formats."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from app.auth.dependencies import editor_key
from app.common.http import (
    READ_ERRORS,
    WRITE_ERRORS,
    AppSettings,
    StrictRoute,
    from_query,
    problems,
)
from app.common.principal import Principal
from app.db import ReplicaReads, Session
from app.errors import PayloadTooLarge, UnsupportedMediaType
from app.opendata.imports import MAX_UPLOAD_BYTES, ImportReport, ScdlImport
from app.opendata.schemas import GrantFilters
from app.opendata.service import fiscal_data_package, scdl_csv, unpublishable_csv
from app.reporting.export import SpooledFileResponse, spool_text

router = APIRouter(tags=["open data"], route_class=StrictRoute)
Filters = Annotated[GrantFilters, Depends(from_query(GrantFilters))]
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
`nature` `aide en numéraire`; `conditionsVersement` from the schedule and the payments: `unique`
when the schedule plans one year and at most one disbursement was made, `échelonné` otherwise;
`datesPeriodeVersement` the payment's date for a grant paid at once, otherwise the period from
the signature (or the first payment, if earlier) to the later of the last payment and the
31 December of the last scheduled year; `notificationUE` `oui`/`non` from `eu_notified`;
`pourcentageSubvention` 1; `dispositifAide` the chantier's name. A text cell that a
spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) is written with a leading
`'`.
"""


@router.get(
    "/v1/exports/scdl-subventions",
    summary="Export grants as SCDL subventions 2.1.1 (CSV, streamed)",
    description=SCDL_DESCRIPTION,
    response_class=StreamingResponse,
    responses={**CSV, **problems(*READ_ERRORS)},
)
async def export_scdl_subventions(
    request: Request, reads: ReplicaReads, filters: Filters
) -> StreamingResponse:
    related = request.url_for("export_scdl_unpublishable").include_query_params(
        **request.query_params
    )
    # Written whole first, then sent: a client that reads slowly holds no database connection.
    spool = await spool_text(scdl_csv(reads.sessionmaker, filters))
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": 'attachment; filename="subventions.csv"',
            "Link": f'<{related.path}?{related.query}>; rel="related"',
        },
    )


@router.get(
    "/v1/exports/scdl-subventions/unpublishable",
    summary="The grants an SCDL export leaves out, and why (CSV, streamed)",
    description=(
        "Same filters as the export. One line per reason: the commitment, the SCDL column it "
        "cannot fill (`scdl_column`), the API field to set (`field`) and the reason."
    ),
    response_class=StreamingResponse,
    responses={**CSV, **problems(*READ_ERRORS)},
)
async def export_scdl_unpublishable(
    request: Request, reads: ReplicaReads, filters: Filters
) -> StreamingResponse:
    spool = await spool_text(unpublishable_csv(reads.sessionmaker, filters))
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="subventions-unpublishable.csv"'},
    )


@router.get(
    "/v1/exports/fiscal-data-package",
    summary="Export commitments as a Fiscal Data Package (zip)",
    description=(
        "A zip of `datapackage.json` (a Tabular Data Package with the Fiscal Data Package's "
        "`fiscalPeriod`, `model` and field `columnType`s), `commitments.csv`: budget year as "
        "`date:fiscal-year`, `amount` and `disbursed_amount` as EUR `value` measures, the "
        "financer as administrative classification, programme / chantier / action as the "
        "functional classification's three levels, the instrument as economic classification, "
        "the status as budget phase; and `payments.csv`: each payment's date, year, signed "
        "amount (a reversal negative) and kind, `commitment_id` a foreign key to its "
        "commitment. OpenSpending and data portals ingest it as it is."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
        **problems(*READ_ERRORS),
    },
)
async def export_fiscal_data_package(
    request: Request,
    reads: ReplicaReads,
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes (repeatable).")
    ] = None,
    year: Annotated[
        list[Annotated[int, Field(ge=1900, le=2200)]] | None,
        Query(description="Only these budget years."),
    ] = None,
) -> Response:
    # Written whole first, then sent: a client that reads slowly holds no database connection.
    spool = await fiscal_data_package(reads.sessionmaker, programme_id, year)
    return SpooledFileResponse(
        spool,
        request.app.state.settings.aggregates.export_stall_seconds,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="fiscal-data-package.zip"'},
    )


IMPORT_DESCRIPTION = f"""
Upload an SCDL « subventions » file (`Content-Type: text/csv`, at most
{MAX_UPLOAD_BYTES // (1024 * 1024)} MiB) and make its rows grant commitments of the action
`action_id`: the partner is the one whose `siret` is the row's `idAttribuant`; the commitment's
`external_ref` is a stable row key (`SCDL <referenceDecision> <beneficiary> <object digest>`),
so importing the same file again changes nothing, and a changed amount is an update.

Read as published: UTF-8 (with or without BOM) or Windows-1252, `,` or `;`, header names in any
case, decimal commas and spaced thousands (`40 000,00`), dates `2017-09-08`, `2017/09/08` or
`08/09/2017`, periods joined by `/` or `_`, spaced SIRETs. A file whose header lacks a required
column, or whose rows do not match its header, is refused as a whole.

`dry_run=true` (the default) answers the report without keeping anything. With
`partial=false` (the default) one bad row refuses the file: a 422 whose `errors` point at
`/lines/<line>/<column>`; with `partial=true` the good rows are imported and the bad ones listed
in `issues`.
"""


@router.post(
    "/v1/imports/scdl",
    summary="Import grants from an SCDL subventions file (CSV upload; dry run by default)",
    description=IMPORT_DESCRIPTION,
    response_model=ImportReport,
    responses=problems(*WRITE_ERRORS),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_scdl(
    request: Request,
    session: Session,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(editor_key)],
    action_id: Annotated[uuid.UUID, Query(description="The action the grants are given to.")],
    dry_run: Annotated[bool, Query(description="Only report; keep nothing.")] = True,
    partial: Annotated[bool, Query(description="Import the good rows of a file with bad ones.")] = (
        False
    ),
) -> ImportReport:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise UnsupportedMediaType("Send the file as text/csv.")
    data = await request.body()
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"An SCDL file may be at most {MAX_UPLOAD_BYTES} bytes.")
    return await ScdlImport(session, settings, principal).run(
        data, action_id, dry_run=dry_run, partial=partial
    )
