"""Priority rules: plain reference data, guarded by the database's constraints."""

from app.common.service import ResourceService
from app.models import Priority
from app.priorities.repository import PriorityRepository


class PriorityService(ResourceService[Priority]):
    repository = PriorityRepository
    noun = "priority"
