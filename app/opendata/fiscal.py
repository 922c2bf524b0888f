"""The Fiscal Data Package (OpenSpending) of the commitments: a zip of `datapackage.json` and
`commitments.csv`. The descriptor is a Tabular Data Package (frictionless validates it) with the
FDP additions: `fiscalPeriod`, a `model` of measures and dimensions, and each field's FDP
`columnType`. There are no dated payments yet: only commitments are exported.

Mappings: the commitment's budget year is `date:fiscal-year`; `amount` (and `disbursed_amount`)
the `value` measures in EUR; the financer (partner) the administrative unit (FDP
`administrative-classification`); the programme, chantier and action the functional
classification (`functional-classification` levels 1–3); the instrument the economic
classification; the status the budget phase (`planned` → proposed, `committed` → approved).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

from app.common.fields import format_money
from app.opendata.repository import CommitmentLine
from app.reporting.csv_safety import FormulaSafeWriter

RESOURCE = "commitments.csv"

# name, Table Schema type, FDP columnType, title
FIELDS: list[tuple[str, str, str, str]] = [
    ("commitment_id", "string", "unique-identifier", "Commitment id"),
    ("fiscal_year", "integer", "date:fiscal-year", "Budget year"),
    ("amount", "number", "value", "Amount committed (EUR)"),
    ("disbursed_amount", "number", "value", "Paid to date (EUR)"),
    ("budget_phase", "string", "budget-phase", "planned, committed or cancelled"),
    ("instrument", "string", "economic-classification:generic:level1:code", "Instrument"),
    ("partner_code", "string", "administrative-classification:generic:level1:code", "Financer"),
    ("partner_name", "string", "administrative-classification:generic:level1:label", "Financer"),
    ("programme_code", "string", "functional-classification:generic:level1:code", "Programme"),
    ("programme_name", "string", "functional-classification:generic:level1:label", "Programme"),
    ("chantier_code", "string", "functional-classification:generic:level2:code", "Chantier"),
    ("chantier_name", "string", "functional-classification:generic:level2:label", "Chantier"),
    ("action_code", "string", "functional-classification:generic:level3:code", "Action"),
    ("action_title", "string", "functional-classification:generic:level3:label", "Action"),
    ("signed_on", "date", "date:generic", "Signed on"),
    ("direction", "string", "direction", "expenditure"),
]


def row(line: CommitmentLine) -> list[Any]:
    return [
        line.id,
        line.year,
        format_money(line.amount),
        format_money(line.disbursed_amount),
        line.status,
        line.instrument,
        line.partner_code,
        line.partner_name,
        line.programme_code,
        line.programme_name,
        line.chantier_code,
        line.chantier_name,
        line.action_code,
        line.action_title,
        line.signed_on.isoformat() if line.signed_on else "",
        "expenditure",
    ]


def descriptor(period: tuple[int, int] | None) -> dict[str, Any]:
    fields = [
        {"name": name, "type": kind, "columnType": column_type, "title": title}
        | ({"constraints": {"required": True}} if name in ("commitment_id", "amount") else {})
        for name, kind, column_type, title in FIELDS
    ]
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": "relance-commitments",
        "title": "Budget commitments of the programmes",
        "countryCode": "FR",
        "resources": [
            {
                "name": "commitments",
                "path": RESOURCE,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": fields, "primaryKey": ["commitment_id"]},
            }
        ],
        "model": {
            "measures": {
                "amount": {"source": "amount", "currency": "EUR"},
                "disbursed_amount": {"source": "disbursed_amount", "currency": "EUR"},
            },
            "dimensions": {
                "date": {"dimensionType": "datetime", "primaryKey": ["fiscal_year"],
                         "attributes": {"fiscal_year": {"source": "fiscal_year"}}},
                "financer": {"dimensionType": "entity", "primaryKey": ["partner_code"],
                             "attributes": {"partner_code": {"source": "partner_code"},
                                            "partner_name": {"source": "partner_name"}}},
                "activity": {"dimensionType": "activity", "primaryKey": ["action_code"],
                             "attributes": {"action_code": {"source": "action_code"},
                                            "action_title": {"source": "action_title"}}},
            },
        },
    }  # fmt: skip
    if period is not None:
        package["fiscalPeriod"] = {"start": f"{period[0]}-01-01", "end": f"{period[1]}-12-31"}
    return package


async def package_zip(
    lines: AsyncIterator[CommitmentLine], period: tuple[int, int] | None
) -> bytes:
    """The zip, built in memory (the CSV is deflated as it is written)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", json.dumps(descriptor(period), indent=2))
        with archive.open(RESOURCE, "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = FormulaSafeWriter(csv.writer(text, lineterminator="\r\n"))
            writer.writerow([name for name, *_ in FIELDS])
            async for line in lines:
                writer.writerow(row(line))
            text.flush()
            text.detach()
    return out.getvalue()
