"""The one place organization scoping is enforced: sessions bound to a scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from core.db import ALL_ORGS, Scope
from core.errors import PermissionDeniedError
from core.jobs import create_job
from core.models import Job, Organization, User
from core.runtime import Runtime
from tests.conftest import Tenant


def test_a_scoped_session_sees_only_its_own_organization(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        emails = {u.email for u in s.scalars(select(User))}
        orgs = list(s.scalars(select(Organization)))
    assert emails == {u.email for u in tenant.users.values()}
    assert [o.id for o in orgs] == [tenant.id]


def test_a_scoped_session_cannot_fetch_another_orgs_row_by_id(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = other_tenant.users["agent"].id
    with runtime.db.session(Scope(tenant.id)) as s:
        assert s.scalars(select(User).where(User.id == theirs)).one_or_none() is None


def test_bulk_update_is_scoped_too(runtime: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        s.execute(update(User).values(display_name="renamed").execution_options(synchronize_session=False))
    with runtime.db.session(ALL_ORGS) as s:
        theirs = s.get(User, other_tenant.users["agent"].id)
        assert theirs is not None and theirs.display_name != "renamed"


def test_writing_into_another_organization_is_refused(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    with pytest.raises(PermissionDeniedError), runtime.db.session(Scope(tenant.id)) as s:
        s.add(Job(kind="x", org_id=other_tenant.id, params={}))
    job_id = create_job(runtime.db, Scope(other_tenant.id), kind="x", params={}, created_by=None)
    with pytest.raises(PermissionDeniedError), runtime.db.session(Scope(other_tenant.id)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.org_id = tenant.id


def test_a_session_without_scope_refuses_to_query_org_data(runtime: Runtime) -> None:
    with runtime.db.unscoped_session() as s, pytest.raises(PermissionDeniedError):
        s.scalars(select(User)).all()


def test_new_rows_get_the_sessions_organization(runtime: Runtime, tenant: Tenant) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        job = Job(kind="stamped", params={})
        s.add(job)
        s.flush()
        assert job.org_id == tenant.id
