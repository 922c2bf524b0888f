"""The SQL that lives in the database (trigger functions and triggers), read from the .sql files
beside this module as alembic_utils entities.

`migrations/env.py` registers `ENTITIES`, so `alembic check` (in `make test`) fails when the
database's functions or triggers differ from these files, and `alembic revision
--autogenerate` writes the migration that moves the database to them. Each file is plain SQL a
reader can run: every statement begins a line with `CREATE`; the `--` lines between statements
are notes for the reader (notes meant to reach the database go inside the function bodies).
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import ReplaceableEntity

HERE = Path(__file__).resolve().parent
FILES = (
    "change_log.sql",
    "change_commits.sql",
    "commitment_rollups.sql",
    "territorial_rollups.sql",
    "programme_ownership.sql",
    "programme_periods.sql",
    "payments.sql",
    "schedules.sql",
    "cashflow_rollups.sql",
    "milestones.sql",
    "financing.sql",
    "indicators.sql",
    "action_counts.sql",
)

_STATEMENT_START = re.compile(r"^(?=CREATE )", re.MULTILINE)


def statements(path: Path) -> list[str]:
    """The file's CREATE statements, verbatim, without the reader's notes between them."""
    found = []
    for part in _STATEMENT_START.split(path.read_text()):
        lines = part.rstrip().splitlines()
        while lines and not lines[-1].rstrip().endswith(";"):
            lines.pop()  # a note that introduces the next statement
        if lines and lines[0].startswith("CREATE "):
            found.append("\n".join(lines))
    return found


def entity(statement: str) -> ReplaceableEntity:
    if statement.startswith("CREATE FUNCTION "):
        return PGFunction.from_sql(statement)
    if statement.startswith(("CREATE TRIGGER ", "CREATE CONSTRAINT TRIGGER ")):
        return PGTrigger.from_sql(statement)
    raise ValueError(f"not a function or a trigger: {statement[:60]!r}")


ENTITIES: list[ReplaceableEntity] = [
    entity(statement) for name in FILES for statement in statements(HERE / name)
]
