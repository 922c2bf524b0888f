"""Indicator rules: definitions whose values never mix units once they add up, per-action
records (targets inside the programme, actuals never in the future), and partners' values by
their own references, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import SCOPED
from app.common.http import check_if_match
from app.common.pagination import ListParams
from app.common.principal import Principal, programmes_within
from app.common.rules import check_partner, field_reference_errors, reference_errors
from app.common.service import ResourceService
from app.errors import ErrorItem, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from app.indicators.repository import (
    IndicatorRepository,
    RecordKey,
    RecordRepository,
    RollupRepository,
    ValueColumns,
)
from app.indicators.schemas import (
    ActionIndicatorPut,
    ActionIndicatorRead,
    IndicatorCell,
    IndicatorCube,
    IndicatorFilters,
    IndicatorValueItem,
    IndicatorValuePut,
    IndicatorValueResult,
    format_value,
)
from app.models import Action, Indicator, Partner, Programme
from app.models.enums import IndicatorAggregation
from app.programmes.repository import ProgrammeRepository
from app.sync.repository import PARTNER_LOCK

FUTURE = "must not be in the future"
OUTSIDE_SCOPE = "names a value of a programme this key does not write"


def _today() -> Any:
    return datetime.now(UTC).date()


def _pointer_order(error: ErrorItem) -> list[tuple[int, int, str]]:
    parts = (error.pointer or "").split("/")
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


class IndicatorService(ResourceService[Indicator, IndicatorRepository]):
    """Every write is also captured in the change log by database triggers. An indicator that
    actions follow cannot be deleted (409 STILL_REFERENCED)."""

    repository = IndicatorRepository
    noun = "indicator"

    async def list(
        self, params: ListParams, filters: IndicatorFilters
    ) -> tuple[list[Indicator], str | None]:
        return await self.repo.page(params, filters, self.repo.where(filters))

    def programme_of(self, obj: Indicator) -> uuid.UUID | None:
        return obj.programme_id

    def check_access(self, obj: Indicator) -> None:
        """A shared indicator is every programme's: a scoped key does not write it (403)."""
        if obj.programme_id is None and self.within is not None:
            raise Forbidden(SCOPED)
        super().check_access(obj)

    def check_allowed(self, values: Mapping[str, Any]) -> None:
        if "programme_id" in values and values["programme_id"] is None and self.within is not None:
            raise Forbidden(SCOPED)

    async def validate(self, values: Mapping[str, Any], current: Indicator | None) -> None:
        """The programme exists (for a scoped key: is one of its own); and a `sum` indicator's
        values are all in its unit: changing the unit of one that actions follow, or turning one
        whose values were stated in other units into `sum`, is refused."""
        errors = await field_reference_errors(
            self.repo, values, {"programme_id": (Programme, "programme")}, self.within
        )
        if current is not None:
            unit = values.get("unit", current.unit)
            aggregation = values.get("aggregation", current.aggregation)
            if aggregation == IndicatorAggregation.sum:
                others = await self.repo.units_other_than(current.id, unit)
                if others:
                    field = "unit" if unit != current.unit else "aggregation"
                    detail = (
                        f"would make a sum of values in several units: actions' values are in "
                        f"{', '.join(others)}; restate them (PUT each action's record) first"
                        if field == "aggregation"
                        else f"cannot change while actions' values are in {', '.join(others)} "
                        "and the indicator adds them up (aggregation `sum`)"
                    )
                    errors.append(ErrorItem(pointer=f"/{field}", detail=detail))
        if errors:
            raise ValidationFailed("The indicator is invalid.", errors=errors)


class RecordService:
    """An action's records, and the values partners push into them."""

    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.session = session
        self.repo = RecordRepository(session)
        self.principal = principal

    @property
    def within(self) -> frozenset[uuid.UUID] | None:
        return programmes_within(self.principal)

    async def _action(self, action_id: uuid.UUID, *, for_write: bool) -> Action:
        action = await self.repo.action(action_id)
        missing = NotFound(f"No action has id {action_id}.")
        if action is None:
            raise missing
        if (
            for_write
            and self.principal is not None
            and not self.principal.reaches(action.programme_id)
        ):
            raise missing
        return action

    async def _indicator(self, indicator_id: uuid.UUID, action: Action) -> Indicator:
        """The indicator, if this action's programme may follow it (its own or a shared one)."""
        indicator = await self.repo.indicator(indicator_id)
        if indicator is None or indicator.programme_id not in (None, action.programme_id):
            raise NotFound(f"No indicator with id {indicator_id} is open to this action.")
        return indicator

    # -- reads ---------------------------------------------------------------------------------

    async def records(self, action_id: uuid.UUID) -> list[ActionIndicatorRead]:
        await self._action(action_id, for_write=False)
        return await self.repo.read(action_id)

    async def get(self, action_id: uuid.UUID, indicator_id: uuid.UUID) -> ActionIndicatorRead:
        await self._action(action_id, for_write=False)
        found = await self.repo.read(action_id, indicator_id)
        if not found:
            raise NotFound(f"Action {action_id} does not follow indicator {indicator_id}.")
        return found[0]

    # -- writes --------------------------------------------------------------------------------

    async def _locked(
        self, action_id: uuid.UUID, indicator_id: uuid.UUID, if_match: str | None
    ) -> tuple[Action, Indicator, RecordKey | None]:
        action = await self._action(action_id, for_write=True)
        indicator = await self._indicator(indicator_id, action)
        key = await self.repo.key(action_id, indicator_id)
        if key is not None:
            check_if_match(if_match, key.etag)
        elif if_match is not None and if_match.strip() != "*":
            raise PreconditionFailed("If-Match was sent but the action does not follow it yet.")
        return action, indicator, key

    async def _errors(self, action: Action, data: ActionIndicatorPut) -> list[ErrorItem]:
        periods = await ProgrammeRepository(self.session).action_periods([action.id])
        period = periods[action.id]
        errors: list[ErrorItem] = []
        seen_years: dict[int, int] = {}
        for n, target in enumerate(data.targets):
            first = seen_years.setdefault(target.year, n)
            if first != n:
                detail = f"appears twice (also /targets/{first}/year)"
                errors.append(ErrorItem(pointer=f"/targets/{n}/year", detail=detail))
            elif target.year not in period:
                detail = f"is outside the programme period {period.start}–{period.stop - 1}"
                errors.append(ErrorItem(pointer=f"/targets/{n}/year", detail=detail))
        today = _today()
        seen_refs: dict[tuple[uuid.UUID, str], int] = {}
        for n, actual in enumerate(data.actuals):
            if actual.on > today:
                errors.append(ErrorItem(pointer=f"/actuals/{n}/on", detail=FUTURE))
            if actual.partner_id is not None and actual.external_ref is not None:
                first = seen_refs.setdefault((actual.partner_id, actual.external_ref), n)
                if first != n:
                    detail = f"appears twice for this partner (also /actuals/{first}/external_ref)"
                    errors.append(ErrorItem(pointer=f"/actuals/{n}/external_ref", detail=detail))
        partners = [(n, a.partner_id) for n, a in enumerate(data.actuals) if a.partner_id]
        if partners:
            errors += await reference_errors(
                IndicatorRepository(self.session),
                Partner,
                "partner",
                [p for _, p in partners],
                lambda i: f"/actuals/{partners[i][0]}/partner_id",
            )
        return errors

    async def put(
        self,
        action_id: uuid.UUID,
        indicator_id: uuid.UUID,
        data: ActionIndicatorPut,
        if_match: str | None,
    ) -> tuple[ActionIndicatorRead, bool]:
        """Create or replace the record; returns it and whether it was created. The same record
        sent again writes nothing (no new version)."""
        action, indicator, key = await self._locked(action_id, indicator_id, if_match)
        errors = await self._errors(action, data)
        if errors:
            errors.sort(key=_pointer_order)
            raise ValidationFailed("The record is invalid; nothing was written.", errors=errors)
        targets = sorted((t.year, t.value) for t in data.targets)
        actuals = [
            {
                "measured_on": a.on,
                "value": a.value,
                "partner_id": a.partner_id,
                "external_ref": a.external_ref,
            }
            for a in sorted(data.actuals, key=lambda a: a.on)
        ]
        baseline = data.baseline
        values = {
            "unit": indicator.unit,
            "baseline_value": baseline.value if baseline else None,
            "baseline_on": baseline.on if baseline else None,
        }
        if key is not None:
            current = (await self.repo.read(action_id, indicator_id))[0]
            if _same(current, values, targets, actuals):
                return current, False
        record_id = key.id if key is not None else uuid.uuid4()
        await self.repo.replace_children(record_id, action.programme_id, targets, actuals)
        if key is None:
            await self.repo.insert_record(
                {
                    "id": record_id,
                    "action_id": action.id,
                    "indicator_id": indicator.id,
                    "programme_id": action.programme_id,
                    **values,
                }
            )
        else:
            await self.repo.update_record(record_id, values)
        return (await self.repo.read(action_id, indicator_id))[0], key is None

    async def delete(
        self, action_id: uuid.UUID, indicator_id: uuid.UUID, if_match: str | None
    ) -> None:
        _, _, key = await self._locked(action_id, indicator_id, if_match)
        if key is None:
            raise NotFound(f"Action {action_id} does not follow indicator {indicator_id}.")
        await self.repo.delete_record(key.id)

    # -- partners' values ----------------------------------------------------------------------

    async def _authorize(self, partner_id: uuid.UUID) -> None:
        check_partner(self.principal, partner_id)
        if not await IndicatorRepository(self.session).existing(Partner, [partner_id]):
            raise NotFound(f"No partner has id {partner_id}.")
        await self.session.execute(PARTNER_LOCK, {"name": f"relance-sync:{partner_id}"})

    async def _check(
        self,
        partner_id: uuid.UUID,
        refs: Sequence[str],
        items: Sequence[IndicatorValuePut],
        at: Sequence[str],
    ) -> tuple[ValueColumns, list[ErrorItem]]:
        """The columns to write and every error, named by pointer (`at[n]`: the n-th item)."""
        named = await self.repo.named(
            {(item.action_code, item.indicator_code) for item in items}, self.within
        )
        today = _today()
        errors: list[ErrorItem] = []
        columns = ValueColumns([], [], [], [])
        for n, item in enumerate(items):
            found = named[(item.action_code, item.indicator_code)]
            if item.on > today:
                errors.append(ErrorItem(pointer=f"{at[n]}/on", detail=FUTURE))
            if found.action_id is None:
                errors.append(ErrorItem(pointer=f"{at[n]}/action_code", detail="names no action"))
            if found.indicator_id is None:
                detail = "names no indicator"
            elif found.action_id is not None and found.record_id is None:
                detail = (
                    "is not followed by this action: an editor sets its record first "
                    f"(PUT /v1/actions/{found.action_id}/indicators/{found.indicator_id})"
                )
            elif found.record_id is not None and not found.unit_matches:
                detail = (
                    "has changed unit since this action's values were stated: an editor "
                    "restates them first"
                )
            else:
                detail = ""
            if detail:
                errors.append(ErrorItem(pointer=f"{at[n]}/indicator_code", detail=detail))
            if found.record_id is not None:
                columns.external_ref.append(refs[n])
                columns.record_id.append(found.record_id)
                columns.on.append(item.on)
                columns.value.append(format_value(item.value))
        if self.within is not None:
            outside = await self.repo.refs_outside(partner_id, refs, self.within)
            errors += [
                ErrorItem(pointer=f"{at[n]}/external_ref", detail=OUTSIDE_SCOPE)
                for n, ref in enumerate(refs)
                if ref in outside
            ]
        return columns, errors

    async def put_values(
        self,
        partner_id: uuid.UUID,
        items: Sequence[tuple[int, IndicatorValueItem]],
        errors: list[ErrorItem],
        more_errors: int = 0,
    ) -> IndicatorValueResult:
        """A batch, all or nothing: `errors` are those of the body's own validation."""
        await self._authorize(partner_id)
        refs = [item.external_ref for _, item in items]
        at = [f"/items/{index}" for index, _ in items]
        seen: dict[str, int] = {}
        for (index, item), pointer in zip(items, at, strict=True):
            first = seen.setdefault(item.external_ref, index)
            if first != index:
                detail = f"appears twice in the batch (also /items/{first}/external_ref)"
                errors.append(ErrorItem(pointer=f"{pointer}/external_ref", detail=detail))
        columns, found = await self._check(partner_id, refs, [i for _, i in items], at)
        errors = errors + found
        if errors:
            errors.sort(key=_pointer_order)
            raise ValidationFailed(
                "The batch is invalid; nothing was written.", errors=errors, more_errors=more_errors
            )
        created, updated = await self.repo.upsert_values(partner_id, columns)
        return IndicatorValueResult(
            created=created, updated=updated, unchanged=len(items) - created - updated
        )

    async def put_value(
        self, partner_id: uuid.UUID, external_ref: str, item: IndicatorValuePut
    ) -> tuple[ActionIndicatorRead, bool]:
        """One value; returns the record it belongs to and whether the value was created."""
        await self._authorize(partner_id)
        columns, errors = await self._check(partner_id, [external_ref], [item], [""])
        if errors:
            raise ValidationFailed("The value is invalid; nothing was written.", errors=errors)
        created, _ = await self.repo.upsert_values(partner_id, columns)
        action_id, indicator_id = await self.repo.record_ids_by_key(columns.record_id[0])
        return (await self.repo.read(action_id, indicator_id))[0], created == 1

    # -- roll-ups ------------------------------------------------------------------------------

    async def cube(
        self,
        by: str,
        indicator_id: uuid.UUID | None,
        programme_id: uuid.UUID | None,
        year: int | None,
    ) -> IndicatorCube:
        rows = await RollupRepository(self.session).cells(by, indicator_id, programme_id, year)
        return IndicatorCube(by=by, items=[IndicatorCell.model_validate(row) for row in rows])


def _same(
    current: ActionIndicatorRead,
    values: Mapping[str, Any],
    targets: Sequence[tuple[int, Any]],
    actuals: Sequence[Mapping[str, Any]],
) -> bool:
    """Whether the record sent is the stored one, value strings and order included."""
    base = current.baseline
    return (
        current.unit == values["unit"]
        and (None if base is None else (format_value(base.value), base.on))
        == (
            None
            if values["baseline_value"] is None
            else (format_value(values["baseline_value"]), values["baseline_on"])
        )
        and [(t.year, format_value(t.value)) for t in current.targets]
        == [(y, format_value(v)) for y, v in targets]
        and [(a.on, format_value(a.value), a.partner_id, a.external_ref) for a in current.actuals]
        == [
            (a["measured_on"], format_value(a["value"]), a["partner_id"], a["external_ref"])
            for a in actuals
        ]
    )
