"""/v1/partners: organisations that finance or carry actions."""

from app.auth.dependencies import editor_key
from app.common.crud import ResourceSpec, crud_router
from app.models import Partner
from app.partners.schemas import PartnerCreate, PartnerFilters, PartnerRead, PartnerUpdate
from app.partners.service import PartnerService

router = crud_router(
    ResourceSpec(
        plural="partners",
        singular="partner",
        read=PartnerRead,
        create=PartnerCreate,
        update=PartnerUpdate,
        filters=PartnerFilters,
        service=PartnerService,
        writer=editor_key,
        default_sort="code",
        sortable=Partner.sortable,
        delete_note="Refused with 409 while actions, commitments or keys refer to the partner.",
    )
)
