"""/v1/commitments: money a partner commits to an action for a budget year."""

from app.auth.dependencies import commitment_writer_key
from app.commitments.schemas import (
    CommitmentCreate,
    CommitmentFilters,
    CommitmentRead,
    CommitmentUpdate,
)
from app.commitments.service import CommitmentService
from app.common.crud import ResourceSpec, crud_router
from app.models import Commitment

router = crud_router(
    ResourceSpec(
        plural="commitments",
        singular="commitment",
        read=CommitmentRead,
        create=CommitmentCreate,
        update=CommitmentUpdate,
        filters=CommitmentFilters,
        service=CommitmentService,
        writer=commitment_writer_key,
        default_sort="-created_at",
        sortable=Commitment.sortable,
        delete_note="Partner keys may delete only their own partner's commitments.",
    )
)
