"""/v1/actions: concrete projects inside one chantier."""

from app.actions.schemas import ActionCreate, ActionFilters, ActionRead, ActionUpdate
from app.actions.service import ActionService
from app.auth.dependencies import editor_key
from app.common.crud import ResourceSpec, crud_router
from app.models import Action

router = crud_router(
    ResourceSpec(
        plural="actions",
        singular="action",
        read=ActionRead,
        create=ActionCreate,
        update=ActionUpdate,
        filters=ActionFilters,
        service=ActionService,
        writer=editor_key,
        default_sort="code",
        sortable=Action.sortable,
        delete_note="Refused with 409 while the action has commitments.",
    )
)
