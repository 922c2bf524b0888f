"""The test database server: TEST_DATABASE_URL when set, otherwise the embedded PostgreSQL.

The scratch-database helpers live in devtools.scratch (the benchmarks use them too); they are
re-exported here, where the tests have always found them.
"""

from __future__ import annotations

import os
from pathlib import Path

from app import embedded
from devtools.scratch import create_scratch_database, drop_database, plain, with_database

__all__ = ["admin_url", "create_scratch_database", "drop_database", "plain", "with_database"]

ROOT = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """A URL to a database of the test server from which scratch databases are made."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    data_dir = Path(os.environ.get("TEST_EMBEDDED_DATA_DIR", ROOT / ".relance" / "test-pgdata"))
    return embedded.start(data_dir, database="postgres")
