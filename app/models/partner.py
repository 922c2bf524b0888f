"""Partners: organisations that finance or carry actions."""

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Resource
from app.models.enums import PartnerKind, sql_in


class Partner(Resource):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint(sql_in("kind", PartnerKind), name="kind_known"),
        CheckConstraint("siren ~ '^[0-9]{9}$'", name="siren_format"),
        CheckConstraint("code ~ '^[A-Z0-9_]{2,32}$'", name="code_format"),
        CheckConstraint("siret ~ '^[0-9]{14}$'", name="siret_format"),
        # A SIRET is an establishment of the SIREN's organisation.
        CheckConstraint("left(siret, 9) = siren", name="siret_of_siren"),
    )

    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    siren: Mapped[str | None] = mapped_column(String(9), unique=True)
    # The establishment that signs its grants: the SCDL's idAttribuant.
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)

    sortable = Resource.sortable | {"code", "name", "kind"}
