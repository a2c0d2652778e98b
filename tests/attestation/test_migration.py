"""The 0003_attestation migration creates exactly what attestation/models.py declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import attestation.models  # noqa: F401 - registers our tables on Base.metadata
from core.db import Base
from core.runtime import Runtime

OUR_TABLES = {"tn_inventory", "signing_certificates"}


def _table_of(diff: Any) -> str | None:
    if isinstance(diff, list):  # column modifications come as lists of tuples
        return _table_of(diff[0])
    for item in diff[1:]:
        name = getattr(item, "name", None) if not isinstance(item, str) else None
        table = getattr(item, "table", None)
        if table is not None:
            return str(table.name)
        if name in OUR_TABLES:
            return str(name)
        if isinstance(item, str) and item in OUR_TABLES:
            return item
    return None


def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    ours = [d for d in diffs if _table_of(d) in OUR_TABLES]
    assert ours == [], "\n".join(map(repr, ours))
