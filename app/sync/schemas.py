"""Partner sync inputs and outputs: one commitment by the partner's reference, or a batch."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from fastapi import Body, Depends, Path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic.config import JsonDict

from app.commitments.schemas import COMMITMENT_EXAMPLE, CommitmentFields, ExternalRef
from app.common.fields import Year
from app.common.schemas import Input
from app.errors import MAX_LISTED_ERRORS, ErrorItem, ValidationFailed, error_items

MAX_BATCH = 10_000

# The partner and its reference are in the path (or per item, for the reference).
_PUT_EXAMPLE: JsonDict = {
    k: v for k, v in COMMITMENT_EXAMPLE.items() if k not in ("partner_id", "external_ref")
}


_EXTERNAL_REF = TypeAdapter(ExternalRef)


async def _reference_in_path(
    external_ref: Annotated[
        str,
        Path(description=_EXTERNAL_REF.json_schema()["description"]),
        WithJsonSchema(_EXTERNAL_REF.json_schema(mode="validation")),
    ],
) -> str:
    """The reference in PUT's path, held to the body's rules: a bad one is a 422 naming
    `/external_ref` (the commitment's field), not the 404 of an unknown path, and `" SP "` is
    refused rather than stored next to `"SP"`."""
    try:
        return _EXTERNAL_REF.validate_python(external_ref)
    except ValidationError as exc:
        raise ValidationFailed(
            "The reference in the path is invalid.",
            errors=error_items(exc.errors(), ("external_ref",)),
        ) from None


PathReference = Annotated[str, Depends(_reference_in_path)]
"""The `{external_ref}` path parameter of PUT by reference."""


class CommitmentPut(CommitmentFields):
    """The whole commitment as the partner holds it; omitted optional fields take defaults."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PUT_EXAMPLE]})


class BatchItem(CommitmentPut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"external_ref": "BDT-PRET-2024-0042", **_PUT_EXAMPLE}]}
    )

    external_ref: ExternalRef


class PruneScope(Input):
    """Which of the partner's stored commitments the batch is the complete list of.

    `{}` means all of them; `{"year": 2024}` only those of 2024. Stored commitments inside the
    scope whose `external_ref` is not in the batch (or that have none) are deleted.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"year": 2024}]})

    year: Year | None = None
    action_id: uuid.UUID | None = None


class CommitmentBatch(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{"external_ref": "BDT-PRET-2024-0042", **_PUT_EXAMPLE}],
                    "prune": {"year": 2024},
                }
            ]
        }
    )

    items: list[BatchItem] = Field(max_length=MAX_BATCH, description="Up to 10,000 items.")
    prune: PruneScope | None = Field(
        default=None,
        description="Delete the partner's commitments inside this scope missing from the batch.",
    )


Item = TypeVar("Item", bound=BaseModel)


class ReceivedBatch(Generic[Item]):
    """A batch body as validated at the HTTP edge: the valid items, by their index in the body,
    and an error for every bad one. Left to FastAPI, pydantic's errors would be answered before
    any check against the database ran; keeping the valid items lets the service check them
    too, so that one 422 lists every bad item (shape and rules alike) and a partner fixes its
    export in one round. A plain class: FastAPI would document a dataclass or a model.
    Subclasses name their own body and item models (the payments' batch)."""

    __slots__ = ("errors", "items", "more_errors", "prune")
    batch_model: ClassVar[type[BaseModel]]
    item_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        items: list[tuple[int, Item]],
        prune: PruneScope | None = None,
        errors: list[ErrorItem] | None = None,
        more_errors: int = 0,
    ) -> None:
        self.items = items
        self.prune = prune
        self.errors = errors or []
        self.more_errors = more_errors
        """Errors counted but not listed: past MAX_LISTED_ERRORS, only counting is cheap."""

    @classmethod
    def validate(cls, body: Any) -> Self:
        try:  # one validation for the whole batch: the path a good batch takes
            batch = cls.batch_model.model_validate(body)
        except ValidationError as exc:
            return cls._with_errors(body, exc)
        return cls(list(enumerate(batch.items)), getattr(batch, "prune", None))  # type: ignore[attr-defined]

    @classmethod
    def _with_errors(cls, body: Any, exc: ValidationError) -> Self:
        if not isinstance(body, dict):
            error = ErrorItem(pointer="", detail='must be an object {"items": [...]}')
            return cls([], errors=[error])
        raw_items = body.get("items")
        if exc.error_count() > MAX_LISTED_ERRORS and isinstance(raw_items, list):
            return cls._counting(body, raw_items)
        found = exc.errors()
        items: list[tuple[int, Item]] = []
        if isinstance(raw_items, list) and len(raw_items) <= MAX_BATCH:
            bad = {
                err["loc"][1]
                for err in found
                if err["loc"][:1] == ("items",) and len(err["loc"]) > 1
            }
            items = [
                (i, cls.item_model.model_validate(raw))  # type: ignore[misc]
                for i, raw in enumerate(raw_items)
                if i not in bad
            ]
        return cls(items, errors=error_items(found))

    @classmethod
    def _counting(cls, body: dict[str, Any], raw_items: list[Any]) -> Self:
        """Too many errors to list them all: turning each into an ErrorItem is what cost seconds
        (pydantic's own validation is fast), so validate item by item, list the errors until
        MAX_LISTED_ERRORS and only count the rest (`ValidationError.error_count()`)."""
        errors: list[ErrorItem] = []
        more = 0

        def add(exc: ValidationError, prefix: tuple[int | str, ...]) -> None:
            nonlocal more
            room = MAX_LISTED_ERRORS - len(errors)
            count = exc.error_count()
            if room > 0:  # one object's errors are few: Input refuses objects with many fields
                errors.extend(error_items(exc.errors()[:room], prefix))
            more += max(0, count - room)

        envelope = {k: v for k, v in body.items() if k != "items"} | {"items": []}
        if len(raw_items) > MAX_BATCH:
            envelope["items"] = raw_items  # refused for its length, its items not validated
        try:
            cls.batch_model.model_validate(envelope)
        except ValidationError as exc:
            add(exc, ())
        items: list[tuple[int, Item]] = []
        if len(raw_items) <= MAX_BATCH:
            for i, raw in enumerate(raw_items):
                try:
                    items.append((i, cls.item_model.model_validate(raw)))  # type: ignore[arg-type]
                except ValidationError as exc:
                    add(exc, ("items", i))
        return cls(items, errors=errors, more_errors=more)


class ReceivedCommitmentBatch(ReceivedBatch[BatchItem]):
    batch_model = CommitmentBatch
    item_model = BatchItem


# The body's JSON schema is CommitmentBatch's (documented in the components); FastAPI reads it
# as JSON (415 for any other media type) and hands the route a ReceivedBatch.
BatchBody = Annotated[
    ReceivedCommitmentBatch,
    Body(),
    PlainValidator(ReceivedCommitmentBatch.validate),
    WithJsonSchema({"$ref": "#/components/schemas/CommitmentBatch"}),
]


class BatchResult(BaseModel):
    created: int = Field(description="Commitments that did not exist.")
    updated: int = Field(description="Commitments that existed and changed (new version).")
    unchanged: int = Field(description="Commitments already identical: no new version.")
    deleted: int = Field(description="Commitments deleted by `prune`.")
