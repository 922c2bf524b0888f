"""/v1/chantiers: the priority workstreams, with the priorities they serve and yearly targets."""

from app.auth.dependencies import editor_key
from app.chantiers.schemas import ChantierCreate, ChantierFilters, ChantierRead, ChantierUpdate
from app.chantiers.service import ChantierService
from app.common.crud import ResourceSpec, crud_router
from app.models import Chantier

router = crud_router(
    ResourceSpec(
        plural="chantiers",
        singular="chantier",
        read=ChantierRead,
        create=ChantierCreate,
        update=ChantierUpdate,
        filters=ChantierFilters,
        service=ChantierService,
        writer=editor_key,
        default_sort="number",
        sortable=Chantier.sortable,
        delete_note="Refused with 409 while the chantier has actions; its targets go with it.",
    )
)
