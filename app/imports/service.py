"""`relance import`: a CSV of actions and their commitments, loaded through the batch rules of
PUT /v1/actions and PUT /v1/partners/{id}/commitments, in one transaction: every bad cell is
reported by its line and column, and then nothing is stored.

The file: UTF-8 (a BOM is fine), `,` or `;` between fields, a header line. One line per
commitment; the lines of one action repeat its columns (the first line's are kept), and a line
without `partner` is an action without a commitment on it.

- action columns: `action_code` (required), `action_external_id`, `chantier` (its number or
  code in the programme), `title`, `description`, `status`, `progress`, `weight`,
  `start_date`, `end_date`, `communes` (INSEE codes separated by spaces or `|`),
  `lead_partner` (a partner's code);
- commitment columns: `partner` (a partner's code), `external_ref` (required with a partner),
  `year`, `amount`, `instrument`, `commitment_status`, `signed_on`, `label`,
  `beneficiary_name`, `beneficiary_siret`.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.schemas import ActionKey, ReceivedActionBatch
from app.actions.service import ActionService
from app.common.principal import Principal
from app.config import Settings
from app.errors import ValidationFailed
from app.imports.repository import ImportRepository
from app.models.enums import Role
from app.sync.schemas import MAX_BATCH, ReceivedCommitmentBatch
from app.sync.service import SyncService

ACTION_COLUMNS = {  # CSV column -> the action's field
    "action_code": "code",
    "action_external_id": "external_id",
    "chantier": "chantier_id",
    "title": "title",
    "description": "description",
    "status": "status",
    "progress": "progress",
    "weight": "weight",
    "start_date": "start_date",
    "end_date": "end_date",
    "communes": "communes",
    "lead_partner": "lead_partner_id",
}
COMMITMENT_COLUMNS = {  # CSV column -> the commitment's field
    "external_ref": "external_ref",
    "year": "year",
    "amount": "amount",
    "instrument": "instrument",
    "commitment_status": "status",
    "signed_on": "signed_on",
    "label": "label",
    "beneficiary_name": "beneficiary_name",
    "beneficiary_siret": "beneficiary_siret",
}
REQUIRED = ("action_code", "chantier", "title")
INTEGERS = {"progress", "weight", "year"}
OPERATOR = Principal(uuid.UUID(int=0), "relance import", Role.admin, None)
"""Who the batch rules see: the operator running the command, unscoped."""

Progress = Callable[[str, int, int], None]
"""Told (what, done, total) after each batch: "actions" or "commitments"."""


class ImportRefused(Exception):
    """The file cannot be stored as it is: every problem found, by line and column."""

    def __init__(self, problems: list[str], more: int = 0) -> None:
        super().__init__(f"{len(problems) + more} problem(s)")
        self.problems = problems
        self.more = more


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, result: Any) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class ImportReport:
    lines: int
    actions: Counts = field(default_factory=Counts)
    commitments: Counts = field(default_factory=Counts)

    def __str__(self) -> str:
        return f"{self.lines} lines: actions {self.actions}; commitments {self.commitments}"


@dataclass
class _Item:
    """One item of a batch and where it came from: its file line and the columns of its fields."""

    line: int
    body: dict[str, Any]


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    text = path.read_text(encoding="utf-8-sig")
    # The delimiter is the header's; the quoting is the standard one (csv.Sniffer guesses it
    # from the header too, and took doubled quotes in a real file's titles for two quotes).
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = list(reader.fieldnames or [])
    rows = ((n + 2, row) for n, row in enumerate(reader))  # line 1 is the header
    return header, rows


def _check_header(header: Sequence[str]) -> None:
    known = {*ACTION_COLUMNS, "partner", *COMMITMENT_COLUMNS}
    problems = [f"line 1: unknown column {name!r}" for name in header if name not in known]
    problems += [f"line 1: column {name!r} is missing" for name in REQUIRED if name not in header]
    if problems:
        raise ImportRefused(problems)


def _value(column: str, raw: str) -> Any:
    """A cell as the JSON body would carry it: integers as numbers (a cell that is not one is
    left a string, which the rules then refuse by name), communes as a list."""
    if column == "communes":
        return [code for code in raw.replace("|", " ").split() if code]
    if column in INTEGERS:
        return int(raw) if raw.strip().lstrip("-").isdigit() else raw
    return raw


def _body(row: dict[str, str], columns: dict[str, str]) -> dict[str, Any]:
    return {
        target: _value(column, row[column])
        for column, target in columns.items()
        if column in row and (row[column] or "").strip() != ""
    }


def _chunks(items: Sequence[_Item]) -> Iterator[Sequence[_Item]]:
    for start in range(0, len(items), MAX_BATCH):
        yield items[start : start + MAX_BATCH]


class ImportService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ImportRepository(session)

    async def load(
        self,
        path: Path,
        *,
        programme: str | None = None,
        match: ActionKey = ActionKey.code,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Store the file's actions, then its commitments, partner by partner; raises
        ImportRefused (the caller rolls the transaction back) at the first batch refused,
        with every problem of the file's actions, or of that batch's commitments."""
        header, rows = _rows(path)
        _check_header(header)
        chantiers = await self.repo.chantiers(await self._programme(programme))
        partners = await self.repo.partners()
        actions: dict[str, _Item] = {}
        commitments: dict[str, list[_Item]] = {}
        problems: list[str] = []
        lines = 0
        for line, row in rows:
            lines += 1
            code = (row.get("action_code") or "").strip()
            if code not in actions:
                body = _body(row, ACTION_COLUMNS)
                self._resolve(body, "chantier_id", chantiers, "chantier", line, problems)
                self._resolve(body, "lead_partner_id", partners, "lead_partner", line, problems)
                actions[code] = _Item(line, body)
            partner = (row.get("partner") or "").strip()
            if partner:
                if partner not in partners:
                    problems.append(f"line {line}, partner: no partner has code {partner!r}")
                    continue
                body = _body(row, COMMITMENT_COLUMNS) | {"action_code": code}
                commitments.setdefault(partner, []).append(_Item(line, body))
        if problems:
            raise ImportRefused(problems)
        report = ImportReport(lines)
        await self._actions(list(actions.values()), match, report, progress)
        await self._commitments(commitments, partners, report, progress)
        return report

    async def _programme(self, code: str | None) -> uuid.UUID:
        programmes = await self.repo.programmes()
        if code is None and len(programmes) == 1:
            return next(iter(programmes.values()))
        if code is None:
            raise ImportRefused([f"several programmes: name one ({', '.join(sorted(programmes))})"])
        if code not in programmes:
            raise ImportRefused([f"no programme has code {code!r}"])
        return programmes[code]

    @staticmethod
    def _resolve(
        body: dict[str, Any],
        target: str,
        known: dict[str, uuid.UUID],
        column: str,
        line: int,
        problems: list[str],
    ) -> None:
        """Turn the code in `body[target]` into its id, or name the cell."""
        if target not in body:
            return
        value = str(body[target]).strip()
        if value not in known:
            problems.append(f"line {line}, {column}: no {column.replace('_', ' ')} {value!r}")
            body.pop(target)
        else:
            body[target] = str(known[value])

    async def _actions(
        self, items: list[_Item], match: ActionKey, report: ImportReport, progress: Progress | None
    ) -> None:
        service = ActionService(self.session, self.settings, OPERATOR)
        done = 0
        for chunk in _chunks(items):
            batch = ReceivedActionBatch.validate({"items": [item.body for item in chunk]})
            try:
                report.actions.add(await service.put_batch(match, batch))
            except ValidationFailed as refused:
                raise _located(refused, chunk, ACTION_COLUMNS) from None
            done += len(chunk)
            if progress is not None:
                progress("actions", done, len(items))

    async def _commitments(
        self,
        by_partner: dict[str, list[_Item]],
        partners: dict[str, uuid.UUID],
        report: ImportReport,
        progress: Progress | None,
    ) -> None:
        total = sum(len(items) for items in by_partner.values())
        if not total:
            return
        codes = {item.body["action_code"] for items in by_partner.values() for item in items}
        ids = await self.repo.action_ids(codes)
        service = SyncService(self.session, self.settings, OPERATOR)
        done = 0
        for partner, items in by_partner.items():
            for chunk in _chunks(items):
                bodies = [
                    {k: v for k, v in item.body.items() if k != "action_code"}
                    | {"action_id": str(ids[item.body["action_code"]])}
                    for item in chunk
                ]
                batch = ReceivedCommitmentBatch.validate({"items": bodies})
                try:
                    report.commitments.add(await service.put_batch(partners[partner], batch))
                except ValidationFailed as refused:
                    raise _located(refused, chunk, COMMITMENT_COLUMNS) from None
                done += len(chunk)
                if progress is not None:
                    progress("commitments", done, total)


def _located(
    refused: ValidationFailed, chunk: Sequence[_Item], columns: dict[str, str]
) -> ImportRefused:
    """The batch's errors (`/items/7/title`) as the file's (`line 9, title: …`)."""
    column_of = {target: column for column, target in columns.items()}
    problems = []
    for error in refused.errors or []:
        parts = (error.pointer or "").split("/")
        if len(parts) >= 3 and parts[1] == "items" and parts[2].isdigit():
            item = chunk[int(parts[2])]
            name = column_of.get(parts[3], parts[3]) if len(parts) > 3 else None
            where = f"line {item.line}" + (f", {name}" if name else "")
        else:
            where = "file"
        problems.append(f"{where}: {error.detail}")
    return ImportRefused(problems, refused.more_errors)
