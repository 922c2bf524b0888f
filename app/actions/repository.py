"""Action rows."""

from app.common.repository import Repository
from app.models import Action


class ActionRepository(Repository[Action]):
    model = Action
