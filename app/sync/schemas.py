"""Partner sync inputs and outputs: one commitment by the partner's reference, or a batch."""

import uuid

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from app.commitments.schemas import COMMITMENT_EXAMPLE, CommitmentFields, ExternalRef
from app.common.fields import Year
from app.common.schemas import Input

MAX_BATCH = 10_000

# The partner and its reference are in the path (or per item, for the reference).
_PUT_EXAMPLE: JsonDict = {
    k: v for k, v in COMMITMENT_EXAMPLE.items() if k not in ("partner_id", "external_ref")
}


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


class BatchResult(BaseModel):
    created: int = Field(description="Commitments that did not exist.")
    updated: int = Field(description="Commitments that existed and changed (new version).")
    unchanged: int = Field(description="Commitments already identical: no new version.")
    deleted: int = Field(description="Commitments deleted by `prune`.")
