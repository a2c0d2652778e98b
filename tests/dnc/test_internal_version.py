"""The internal DNC list's version in the evidence is the organization's own counter: it changes with the
organization's own additions and removals only (another organization's work, numbered by the same global
row sequence, neither shows in it nor moves it), and it rebuilds the list as it was at that version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.db import Scope
from core.models import Role
from core.runtime import Runtime
from dnc.engine import ComplianceEngine
from dnc.internal import (
    add_area_code_block,
    add_internal_dnc,
    current_version,
    internal_entries,
    list_at,
    remove_internal_dnc,
)
from dnc.lead_facts import LeadColumns
from dnc.lists import import_internal_file, import_numbers
from dnc.verdicts import LeadContext
from tests.conftest import Tenant, make_tenant

A, B, C = "+12025557401", "+12025557402", "+12025557403"


def internal_version(runtime: Runtime, tenant: Tenant) -> str:
    at = datetime.now(UTC)
    decision = ComplianceEngine.load(runtime.db, tenant.id).decide(LeadColumns.of([LeadContext(A)]), at)
    [internal] = [c for c in decision.evidence(0).lists_checked if c.kind == "internal"]
    return internal.version


def add(runtime: Runtime, tenant: Tenant, e164: str) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        assert add_internal_dnc(
            s, e164=e164, campaign_id=None, source="compliance", reason="t", added_by=None
        )


def test_the_version_is_the_organizations_own_and_other_organizations_do_not_move_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    ours, theirs = make_tenant(runtime), make_tenant(runtime)
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=ours.id,
                   obtained_at=datetime.now(UTC) - timedelta(days=1))  # fmt: skip
    assert internal_version(runtime, ours) == "v0 (0 entries, 0 area-code blocks)"
    add(runtime, ours, A)
    add(runtime, ours, B)
    assert internal_version(runtime, ours) == "v2 (2 entries, 0 area-code blocks)"
    for n in range(5):  # the global sequence moves on; our version does not
        add(runtime, theirs, f"+1202555749{n}")
    assert internal_version(runtime, ours) == "v2 (2 entries, 0 area-code blocks)"
    with runtime.db.session(Scope(ours.id)) as s:  # adding a number already listed changes nothing
        assert not add_internal_dnc(s, e164=A, campaign_id=None, source="agent", reason="t", added_by=None)
        assert current_version(s) == 2

    with runtime.db.session(Scope(ours.id)) as s:
        [entry_a] = internal_entries(s, e164=A)
        remove_internal_dnc(s, entry_a.id, removed_by=None, role=Role.COMPLIANCE, reason="written consent")
    add(runtime, ours, C)
    with runtime.db.session(Scope(ours.id)) as s:
        add_area_code_block(s, area_code="808", campaign_id=None, reason="no Hawaii", added_by=None)
    file = tmp_path / "internal.csv"
    file.write_text("number\n(202) 555-7404\n202-555-7405\n")
    import_internal_file(runtime.db, org_id=ours.id, path=file)  # one change for the whole file
    assert internal_version(runtime, ours) == "v6 (4 entries, 1 area-code blocks)"

    # Every version rebuilds the list as it was then.
    with runtime.db.session(Scope(ours.id)) as s:
        assert list_at(s, 0) == (set(), set())
        assert list_at(s, 2) == ({(A, None), (B, None)}, set())
        assert list_at(s, 3) == ({(B, None)}, set())
        assert list_at(s, 4) == ({(B, None), (C, None)}, set())
        assert list_at(s, 5) == ({(B, None), (C, None)}, {("808", None)})
        numbers, _ = list_at(s, 6)
        assert numbers == {(B, None), (C, None), ("+12025557404", None), ("+12025557405", None)}
    with runtime.db.session(Scope(theirs.id)) as s:
        assert current_version(s) == 5
        assert len(list_at(s, 5)[0]) == 5 and list_at(s, 2)[0] <= list_at(s, 5)[0]


def test_the_migration_matches_the_models_and_numbers_existing_rows_per_organization(
    runtime: Runtime,
) -> None:
    """0014_evidence_internal_version: the schema the models declare, and existing entries then blocks
    numbered 1, 2, ... per organization in the order they were made (run again here, rolled back)."""
    import importlib.util

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import text

    from core.db import Base

    with runtime.db.engine.connect() as connection:
        diffs = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    ours = [
        d for d in diffs if any(k in repr(d) for k in ("dnc_internal_versions", "added_seq", "removed_seq"))
    ]
    assert ours == [], ours

    path = Path(__file__).resolve().parents[2] / "alembic" / "versions" / "0014_evidence_internal_version.py"
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    tenant = make_tenant(runtime)
    add(runtime, tenant, A)
    with runtime.db.session(Scope(tenant.id)) as s:
        add_area_code_block(s, area_code="907", campaign_id=None, reason="t", added_by=None)
    add(runtime, tenant, B)
    org = {"org": tenant.id}
    with runtime.db.engine.connect() as connection, connection.begin() as tx:
        # as before the migration: no versions yet
        connection.execute(text("UPDATE dnc_internal_entries SET added_seq = 0 WHERE org_id = :org"), org)
        connection.execute(text("UPDATE dnc_area_code_blocks SET added_seq = 0 WHERE org_id = :org"), org)
        connection.execute(text("DELETE FROM dnc_internal_versions WHERE org_id = :org"), org)
        connection.execute(text(migration.BACKFILL))
        entries = connection.execute(
            text("SELECT e164, added_seq FROM dnc_internal_entries WHERE org_id = :org ORDER BY id"), org
        ).all()
        blocks = connection.execute(
            text("SELECT area_code, added_seq FROM dnc_area_code_blocks WHERE org_id = :org"), org
        ).all()
        seq = connection.execute(
            text("SELECT seq FROM dnc_internal_versions WHERE org_id = :org"), org
        ).scalar()
        tx.rollback()
    assert [tuple(r) for r in entries] == [(A, 1), (B, 2)] and [tuple(r) for r in blocks] == [("907", 3)]
    assert seq == 3
