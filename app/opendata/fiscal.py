"""The Fiscal Data Package (OpenSpending) of the commitments: a zip of `datapackage.json`,
`commitments.csv` and `payments.csv`. The descriptor is a Tabular Data Package (frictionless
validates it, the payments' foreign key to their commitment included) with the FDP additions:
`fiscalPeriod`, a `model` of measures and dimensions, and each field's FDP `columnType`.

Mappings: the commitment's budget year is `date:fiscal-year`; `amount` (and `disbursed_amount`)
the `value` measures in EUR; the financer (partner) the administrative unit (FDP
`administrative-classification`); the programme, chantier and action the functional
classification (`functional-classification` levels 1–3); the instrument the economic
classification; the status the budget phase (`planned` → proposed, `committed` → approved).
A payment's date is `date:generic`, its year `date:fiscal-year`, its signed amount (a reversal
negative) the `value`; `commitment_id` refers to its commitment's line.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import IO, Any

from app.common.fields import format_money
from app.models.enums import PaymentKind
from app.opendata.repository import CommitmentLine, PaymentLine
from app.reporting.csv_safety import FormulaSafeWriter
from app.reporting.export import SPOOL_MEMORY_BYTES
from app.reporting.pacing import Pacer

ROWS_PER_TURN = 500

RESOURCE = "commitments.csv"
PAYMENTS = "payments.csv"

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


PAYMENT_FIELDS: list[tuple[str, str, str, str]] = [
    ("payment_id", "string", "unique-identifier", "Payment id"),
    ("commitment_id", "string", "unique-identifier", "Commitment paid"),
    ("paid_on", "date", "date:generic", "Paid on"),
    ("fiscal_year", "integer", "date:fiscal-year", "Year paid"),
    ("amount", "number", "value", "Paid (EUR; a reversal is negative)"),
    ("kind", "string", "budget-phase", "disbursement, reversal or adjustment"),
    ("external_ref", "string", "unique-identifier", "The partner's reference"),
    ("direction", "string", "direction", "expenditure"),
]


def payment_row(line: PaymentLine) -> list[Any]:
    signed = -line.amount if line.kind == PaymentKind.reversal.value else line.amount
    return [
        line.id,
        line.commitment_id,
        line.paid_on.isoformat(),
        line.paid_on.year,
        format_money(signed),
        line.kind,
        line.external_ref or "",
        "expenditure",
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


def _fields(
    declared: list[tuple[str, str, str, str]], required: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [
        {"name": name, "type": kind, "columnType": column_type, "title": title}
        | ({"constraints": {"required": True}} if name in required else {})
        for name, kind, column_type, title in declared
    ]


def descriptor(period: tuple[int, int] | None) -> dict[str, Any]:
    fields = _fields(FIELDS, required=("commitment_id", "amount"))
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
            },
            {
                "name": "payments",
                "path": PAYMENTS,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": _fields(PAYMENT_FIELDS, required=("payment_id", "amount")),
                    "primaryKey": ["payment_id"],
                    "foreignKeys": [
                        {
                            "fields": ["commitment_id"],
                            "reference": {"resource": "commitments", "fields": ["commitment_id"]},
                        }
                    ],
                },
            },
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
) -> IO[bytes]:
    """The zip, written whole into a spooled temporary file (memory, then disk), rewound; each
    CSV is deflated as it is written. The commitments' payments, read with them, wait in a
    spooled file of their own until the commitments' entry is done. The caller sends the zip
    (SpooledFileResponse closes it)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    payments: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("datapackage.json", json.dumps(descriptor(period), indent=2))
            with _csv_writer(payments, PAYMENT_FIELDS) as paid:

                async def commitments() -> AsyncIterator[list[Any]]:
                    async for line in lines:
                        for payment in line.payments:
                            paid.writerow(payment_row(payment))
                        yield row(line)

                await _write_csv(archive, RESOURCE, FIELDS, commitments())
            payments.seek(0)
            with archive.open(PAYMENTS, "w") as entry:
                shutil.copyfileobj(payments, entry)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    finally:
        payments.close()
    return spool


@contextmanager
def _csv_writer(
    raw: IO[bytes], fields: list[tuple[str, str, str, str]]
) -> Iterator[FormulaSafeWriter]:
    """A CSV writer over a binary file, UTF-8, its header written; flushed when done."""
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    writer = FormulaSafeWriter(csv.writer(text, lineterminator="\r\n"))
    writer.writerow([field for field, *_ in fields])
    yield writer
    text.flush()
    text.detach()


async def _write_csv(
    archive: zipfile.ZipFile,
    name: str,
    fields: list[tuple[str, str, str, str]],
    rows: AsyncIterator[list[Any]],
) -> None:
    with archive.open(name, "w") as raw, _csv_writer(raw, fields) as writer:
        pacer = Pacer()
        written = 0
        async for line in rows:
            writer.writerow(line)
            written += 1
            if written % ROWS_PER_TURN == 0:
                await pacer.chunk_done()  # a big package must not stall the other requests
