"""SCDL imports: a file's grants become grant commitments of one action, by (partner,
row key), all or nothing unless `partial`; a dry run writes inside a savepoint rolled back, so
its counts are the real ones and the database is left as it was."""

from __future__ import annotations

import uuid
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.principal import Principal, programmes_within
from app.config import Settings
from app.errors import ErrorItem, ValidationFailed
from app.models import Action, Partner
from app.models.enums import CommitmentStatus, Instrument
from app.opendata.repository import OpendataRepository
from app.opendata.scdl_reader import Grant, Issue, read
from app.sync.repository import Columns, SyncRepository

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class RowIssue(BaseModel):
    line: int = Field(description="The line in the file; the header is line 1.")
    column: str = Field(description="The SCDL column, empty for the whole line.")
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    partial: bool
    encoding: str = Field(examples=["windows-1252"])
    separator: str = Field(examples=[";"])
    rows: int = Field(description="Data rows read.")
    accepted: int = Field(description="Rows that make a grant (written, unless dry_run).")
    rejected: int = Field(description="Rows left out (only with partial=true).")
    created: int
    updated: int
    unchanged: int
    issues: list[RowIssue] = Field(description="Every defect, by line and column.")


def _pointer(issue: Issue) -> str:
    return f"/lines/{issue.line}" + (f"/{issue.column}" if issue.column else "")


def _refusal(detail: str, issues: list[Issue]) -> ValidationFailed:
    items = [ErrorItem(pointer=_pointer(i), detail=i.reason) for i in issues]
    return ValidationFailed(detail, errors=items[:100], more_errors=max(0, len(items) - 100))


def _columns(grants: list[Grant]) -> Columns:
    return Columns(
        external_ref=[g.key for g in grants],
        action_id=[],  # filled by the caller
        year=[g.signed_on.year for g in grants],
        amount=[str(g.amount) for g in grants],
        disbursed_amount=["0.00"] * len(grants),
        instrument=[Instrument.grant.value] * len(grants),
        status=[CommitmentStatus.committed.value] * len(grants),
        signed_on=[g.signed_on for g in grants],
        label=[g.label for g in grants],
        beneficiary_name=[g.beneficiary_name for g in grants],
        beneficiary_siret=[g.beneficiary_siret for g in grants],
        beneficiary_rna=[g.beneficiary_rna for g in grants],
        decision_ref=[g.decision_ref for g in grants],
        eu_notified=[g.eu_notified for g in grants],
    )


class ScdlImport:
    def __init__(
        self, session: AsyncSession, settings: Settings, principal: Principal | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.repo = SyncRepository(session)
        self.within = programmes_within(principal)

    async def run(
        self, data: bytes, action_id: uuid.UUID, *, dry_run: bool, partial: bool
    ) -> ImportReport:
        # A key scoped to programmes imports only onto their actions; another's is "missing".
        if not await self.repo.existing(Action, [action_id], within=self.within):
            raise ValidationFailed(
                "The action is unknown.",
                errors=[ErrorItem(parameter="action_id", detail="no such action")],
            )
        parsed = read(data)
        if parsed.refused:
            raise _refusal("The file is refused as a whole; nothing was imported.", parsed.issues)
        issues = list(parsed.issues)
        partners = await OpendataRepository(self.session).partners_by_siret(
            {g.attributant_siret for g in parsed.grants}
        )
        period = self.settings.programme.years
        kept: list[Grant] = []
        first_line: dict[tuple[str, str], int] = {}
        for grant in parsed.grants:
            problems = []
            if grant.attributant_siret not in partners:
                problems.append(Issue(grant.line, "idAttribuant", "no partner has this siret"))
            if grant.signed_on.year not in period:
                reason = (
                    f"year {grant.signed_on.year} is outside the programme period "
                    f"{period.start}–{period.stop - 1}"
                )
                problems.append(Issue(grant.line, "dateConvention", reason))
            seen = first_line.setdefault((grant.attributant_siret, grant.key), grant.line)
            if seen != grant.line:
                reason = f"is the same grant as line {seen} (decision, beneficiary and object)"
                problems.append(Issue(grant.line, "", reason))
            issues += problems
            if not problems:
                kept.append(grant)
        issues.sort(key=lambda i: i.line)
        if issues and not partial:
            raise _refusal("The file has bad rows; nothing was imported.", issues)
        created, updated = await self._write(kept, partners, action_id, dry_run=dry_run)
        return ImportReport(
            dry_run=dry_run,
            partial=partial,
            encoding=parsed.encoding,
            separator=parsed.separator,
            rows=parsed.rows,
            accepted=len(kept),
            rejected=parsed.rows - len(kept),
            created=created,
            updated=updated,
            unchanged=len(kept) - created - updated,
            issues=[RowIssue(line=i.line, column=i.column, reason=i.reason) for i in issues],
        )

    async def _write(
        self,
        grants: list[Grant],
        partners: dict[str, Partner],
        action_id: uuid.UUID,
        *,
        dry_run: bool,
    ) -> tuple[int, int]:
        by_partner: dict[uuid.UUID, list[Grant]] = defaultdict(list)
        for grant in grants:
            by_partner[partners[grant.attributant_siret].id].append(grant)
        created = updated = 0
        savepoint = await self.session.begin_nested()
        for partner_id, own in sorted(by_partner.items()):
            columns = _columns(own)
            columns.action_id.extend([action_id] * len(own))
            c, u = await self.repo.upsert(partner_id, columns)
            created, updated = created + c, updated + u
        if dry_run:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        return created, updated
