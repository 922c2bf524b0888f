"""Partner rows."""

from app.common.repository import Repository
from app.models import Partner


class PartnerRepository(Repository[Partner]):
    model = Partner
