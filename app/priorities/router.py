"""/v1/priorities: the programme's cross-cutting impératifs."""

from app.auth.dependencies import editor_key
from app.common.crud import ResourceSpec, crud_router
from app.models import Priority
from app.priorities.schemas import PriorityCreate, PriorityFilters, PriorityRead, PriorityUpdate
from app.priorities.service import PriorityService

router = crud_router(
    ResourceSpec(
        plural="priorities",
        singular="priority",
        read=PriorityRead,
        create=PriorityCreate,
        update=PriorityUpdate,
        filters=PriorityFilters,
        service=PriorityService,
        writer=editor_key,
        default_sort="position",
        sortable=Priority.sortable,
        delete_note="Refused with 409 while a chantier still serves this priority.",
    )
)
