"""Reading SCDL « subventions » files as they are published, defects included: UTF-8 with or
without BOM or Windows-1252, `,` or `;` separators, header case, French decimal commas and
spaced thousands, `2017/09/08` or `08/09/2017` dates, `_`-separated periods, spaced SIRETs.

A file whose header lacks a required column, or whose rows do not have the header's number of
fields (the Vendée file: unquoted decimal commas in a `,`-separated file), is refused as a whole
rather than read wrong. Each other row is parsed on its own, every defect named by line and
column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.common.fields import siret_key_valid
from app.opendata import scdl
from app.reporting.csv_safety import FORMULA_STARTS

REQUIRED = ("idAttribuant", "dateConvention", "nomBeneficiaire", "montant")
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break spaces, a stray quote
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y")
_MONEY = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")  # NUMERIC(15,2)
_RNA = re.compile(r"^W[0-9]{9}$")
_TRUE = {"oui", "true", "1", "vrai", "yes"}
_FALSE = {"non", "false", "0", "faux", "no", ""}
KEY_MAX = 200


@dataclass
class Issue:
    line: int  # in the file, the header being line 1
    column: str  # the SCDL column, or "" for the whole line or file
    reason: str


@dataclass
class Grant:
    """One row, parsed: what a grant commitment is made of."""

    line: int
    attributant_siret: str
    signed_on: date
    decision_ref: str | None
    beneficiary_name: str
    beneficiary_siret: str | None
    beneficiary_rna: str | None
    label: str
    amount: Decimal
    eu_notified: bool

    @property
    def key(self) -> str:
        """The stable row key: the decision (or the signature day when there is no decision
        reference), the beneficiary and the object: one deliberation often grants many, and
        one beneficiary several things. The amount is not in it: a new amount is an update."""
        who = self.beneficiary_siret or self.beneficiary_rna or _digest(self.beneficiary_name)
        what = _digest(self.label)[:8]
        key = f"SCDL {self.decision_ref or self.signed_on.isoformat()} {who} {what}"
        return key if len(key) <= KEY_MAX else f"SCDL {_digest(key)}"


@dataclass
class ReadFile:
    encoding: str = ""
    separator: str = ""
    rows: int = 0
    grants: list[Grant] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    refused: bool = False  # a defect of the whole file: no row is taken


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding. A BOM is dropped first (the Somme file has a UTF-8 BOM in
    front of Windows-1252 text); what is not UTF-8 is Windows-1252, which decodes any byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252"


_CANONICAL = {name.lower(): name for name in scdl.columns()}


def _header(line: str, separator: str) -> list[str]:
    cells = next(csv.reader([line], delimiter=separator), [])
    return [_CANONICAL.get(cell.strip().lower(), cell.strip()) for cell in cells]


def _separator(first_line: str) -> str:
    """The separator under which the header names the most SCDL columns."""
    return max(
        (";", ","), key=lambda sep: sum(n in _CANONICAL.values() for n in _header(first_line, sep))
    )


def read(data: bytes) -> ReadFile:
    try:
        return _read(data)
    except csv.Error as exc:  # a field beyond csv's limit (128 KiB), a quote left open…
        refused = ReadFile(refused=True)
        refused.issues.append(Issue(1, "", f"the file is not a readable CSV ({exc})"))
        return refused


def _read(data: bytes) -> ReadFile:
    text, encoding = decode(data)
    result = ReadFile(encoding=encoding)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        result.refused = True
        result.issues.append(Issue(1, "", "the file is empty: no header line"))
        return result
    if "\x00" in text:  # not text, and PostgreSQL could not store it
        result.refused = True
        result.issues.append(Issue(1, "", "the file holds NUL characters: it is not a CSV"))
        return result
    result.separator = _separator(lines[0])
    reader = csv.reader(io.StringIO(text), delimiter=result.separator)
    header = _header(lines[0], result.separator)
    next(reader)
    missing = [name for name in REQUIRED if name not in header]
    for name in missing:
        result.issues.append(Issue(1, name, "the header has no such column"))
    body: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    for cells in reader:  # a quoted cell may hold line breaks: a row starts where it starts
        if any(c.strip() for c in cells):
            body.append((start, cells))
        start = reader.line_num + 1
    result.rows = len(body)
    misshapen = [(n, c) for n, c in body if len(c) != len(header)]
    for line, cells in misshapen:
        result.issues.append(
            Issue(line, "", f"has {len(cells)} fields where the header has {len(header)}")
        )
    if missing or misshapen:
        result.refused = True
        return result
    for line, cells in body:
        values = dict(zip(header, cells, strict=True))
        grant = _grant(line, values, result.issues)
        if grant is not None:
            result.grants.append(grant)
    return result


def _cell(values: dict[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    # Undo the export's formula guard: `'=x` was written for `=x`.
    if value.startswith("'") and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value


def _date(value: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _period_ok(value: str) -> bool:
    """`2017-03-14`, `2017-03-14/2018-03-14`, `2017/09/08_2021/09/07`: dates that may use `/`
    themselves, so `_` is tried before `/`."""
    if _date(value) is not None:
        return True
    for joint in ("_", "/"):
        parts = value.split(joint)
        if len(parts) == 2 and all(_date(part.strip()) is not None for part in parts):
            return True
    return False


def amount(value: str) -> Decimal | None:
    """`40 000,00`, `26 956,00`, `2400.0`, `1.234,50`: the last `.` or `,` is the decimal mark
    (three digits after it are refused: a thousands separator as much as decimals)."""
    cleaned = _SPACES.sub("", value).replace("€", "")
    mark = max(cleaned.rfind(","), cleaned.rfind("."))
    if mark >= 0:
        whole, decimals = cleaned[:mark], cleaned[mark + 1 :]
        if len(decimals) == 3:  # `1.000` or `12,345`: thousands or decimals? Not guessed.
            return None
        cleaned = re.sub(r"[.,]", "", whole) + "." + decimals.rstrip("0")
        cleaned = cleaned.rstrip(".")
    if not _MONEY.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _grant(line: int, values: dict[str, str], issues: list[Issue]) -> Grant | None:
    found: list[Issue] = []

    def bad(column: str, reason: str) -> None:
        found.append(Issue(line, column, reason))

    attributant = _SPACES.sub("", _cell(values, "idAttribuant"))
    if not re.fullmatch(r"[0-9]{14}", attributant):
        bad("idAttribuant", "must be a SIRET of 14 digits")
    signed_on = _date(_cell(values, "dateConvention"))
    if signed_on is None:
        bad("dateConvention", "must be a date such as 2017-09-08")
    name = _cell(values, "nomBeneficiaire")
    if not name:
        bad("nomBeneficiaire", "is empty")
    siret = _SPACES.sub("", _cell(values, "idBeneficiaire")) or None
    if siret is not None and not (re.fullmatch(r"[0-9]{14}", siret) and siret_key_valid(siret)):
        bad("idBeneficiaire", "is not a valid SIRET (14 digits with a valid key)")
    rna = _SPACES.sub("", _cell(values, "rnaBeneficiaire")).upper() or None
    if rna is not None and not _RNA.fullmatch(rna):
        bad("rnaBeneficiaire", "must be W and 9 digits")
    if siret is None and rna is None:
        bad("idBeneficiaire", "neither idBeneficiaire nor rnaBeneficiaire is given")
    money = amount(_cell(values, "montant"))
    if money is None or money <= 0:
        bad("montant", "must be a positive amount with at most two decimals")
    period = _cell(values, "datesPeriodeVersement")
    if period and not _period_ok(period):
        bad("datesPeriodeVersement", "must be a date or two dates joined by / or _")
    notified = _cell(values, "notificationUE").lower()
    if notified not in _TRUE | _FALSE:
        bad("notificationUE", "must be oui or non")
    issues.extend(found)
    if found:
        return None
    assert signed_on is not None
    assert money is not None
    return Grant(
        line=line,
        attributant_siret=attributant,
        signed_on=signed_on,
        decision_ref=_cell(values, "referenceDecision") or None,
        beneficiary_name=name[:500],
        beneficiary_siret=siret,
        beneficiary_rna=rna,
        label=_cell(values, "objet")[:20000],
        amount=money,
        eu_notified=notified in _TRUE,
    )
