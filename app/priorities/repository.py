"""Priority rows."""

from app.common.repository import Repository
from app.models import Priority


class PriorityRepository(Repository[Priority]):
    model = Priority
