"""Partner rules: reference data, guarded by the database's constraints."""

from app.common.service import ResourceService
from app.models import Partner
from app.partners.repository import PartnerRepository


class PartnerService(ResourceService[Partner]):
    repository = PartnerRepository
    noun = "partner"
