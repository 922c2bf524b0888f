"""The SCDL « subventions » 2.1.1 format: its columns (in the schema's own order), the rules a
grant must meet to be published, and one grant written as one row.

Formats follow the schema: dates `YYYY-MM-DD`, `montant` with a decimal point and two
decimals, `notificationUE` `oui`/`non`, `pourcentageSubvention` a number in ]0, 1].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from app.common.fields import format_money
from app.models.enums import CommitmentStatus
from app.opendata.repository import Grant

SCHEMA_PATH = Path(__file__).with_name("schemas") / "scdl_subventions_schema_v2.1.1.json"
OBJET_MAX = 256
NATURE = "aide en numéraire"  # every grant the API knows is paid in money
# conditionsVersement: from the schedule's years and the disbursements made (`conditions`).
ONE_PAYMENT = "unique"
INSTALMENTS = "échelonné"
FULL_SHARE = "1"  # pourcentageSubvention when no financing plan says otherwise


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def columns() -> list[str]:
    """The schema's fields, in its order: the CSV header."""
    return [field["name"] for field in schema()["fields"]]


@dataclass(frozen=True)
class Problem:
    """Why a grant cannot be published: the SCDL column it would break, and the API field."""

    column: str
    field: str
    detail: str


def problems(grant: Grant) -> list[Problem]:
    """Every reason the grant cannot be published; none means it is published."""
    found: list[Problem] = []
    if grant.status != CommitmentStatus.committed.value:
        found.append(Problem("dateConvention", "status", f"is {grant.status}, not committed"))
    if grant.signed_on is None:
        found.append(Problem("dateConvention", "signed_on", "is not set: the grant is unsigned"))
    if grant.partner_siret is None:
        detail = f"partner {grant.partner_code} has no siret"
        found.append(Problem("idAttribuant", "partner.siret", detail))
    if grant.beneficiary_name is None:
        found.append(Problem("nomBeneficiaire", "beneficiary_name", "is not set"))
    if grant.beneficiary_siret is None and grant.beneficiary_rna is None:
        detail = "neither beneficiary_siret nor beneficiary_rna is set"
        found.append(Problem("idBeneficiaire", "beneficiary_siret", detail))
    return found


def conditions(grant: Grant) -> str:
    """`unique` when the schedule plans one year and at most one disbursement was made,
    `échelonné` (in instalments) otherwise."""
    return ONE_PAYMENT if grant.schedule_years <= 1 and grant.disbursements <= 1 else INSTALMENTS


def period(grant: Grant) -> str:
    """A grant paid at once, by one disbursement: that payment's date. Otherwise the period from
    the signature (or the first payment, if earlier) to the later of the last payment and the
    31 December of the last scheduled year; the signature day when that is not later."""
    assert grant.signed_on is not None
    paid_at_once = grant.disbursements == 1 and grant.first_paid_on == grant.last_paid_on
    if conditions(grant) == ONE_PAYMENT and paid_at_once and grant.last_paid_on is not None:
        return grant.last_paid_on.isoformat()
    start = min(grant.signed_on, grant.first_paid_on or grant.signed_on)
    end = max(date(grant.last_scheduled_year, 12, 31), grant.last_paid_on or start)
    return start.isoformat() if end <= start else f"{start.isoformat()}/{end.isoformat()}"


def row(grant: Grant) -> list[str]:
    """The grant's SCDL row, in `columns()` order; only for a grant without problems."""
    assert grant.signed_on is not None
    assert grant.partner_siret is not None
    cells = {
        "nomAttribuant": grant.partner_name,
        "idAttribuant": grant.partner_siret,
        "dateConvention": grant.signed_on.isoformat(),
        "referenceDecision": grant.decision_ref or "",
        "nomBeneficiaire": grant.beneficiary_name or "",
        "idBeneficiaire": grant.beneficiary_siret or "",
        "rnaBeneficiaire": grant.beneficiary_rna or "",
        "objet": (grant.label or grant.action_title)[:OBJET_MAX],
        "montant": format_money(grant.amount),
        "nature": NATURE,
        "conditionsVersement": conditions(grant),
        "datesPeriodeVersement": period(grant),
        "idRAE": "",
        "notificationUE": "oui" if grant.eu_notified else "non",
        "pourcentageSubvention": FULL_SHARE,
        "dispositifAide": grant.chantier_name,
    }
    return [cells[name] for name in columns()]
