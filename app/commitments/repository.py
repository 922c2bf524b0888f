"""Commitment rows."""

from app.common.repository import Repository
from app.models import Commitment


class CommitmentRepository(Repository[Commitment]):
    model = Commitment
