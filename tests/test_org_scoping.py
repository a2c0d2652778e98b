"""The one place organization scoping is enforced: sessions bound to a scope."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import delete, exists, func, literal, select, update
from sqlalchemy.orm import aliased

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


# Every shape of statement a scoped session runs sees only its own organization, or is refused. The
# reported gap: `select(func.count()).select_from(User)` names no entity among its columns, so the hook
# took it for a query on no organization data and ran it unscoped, counting every organization's users.


def _their_job(runtime: Runtime, other_tenant: Tenant) -> uuid.UUID:
    return create_job(runtime.db, Scope(other_tenant.id), kind="scope-shape", params={}, created_by=None)


def test_a_count_over_select_from_counts_only_the_sessions_organization(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    _their_job(runtime, other_tenant)
    with runtime.db.session(Scope(tenant.id)) as s:
        users = s.scalar(select(func.count()).select_from(User))
        users_by_column = s.scalar(select(func.count(User.id)))
        orgs = s.scalar(select(func.count()).select_from(Organization))
        jobs = s.scalar(select(func.count()).select_from(Job))
        users_in_subquery = s.scalar(select(func.count()).select_from(select(User.id).subquery()))
    assert users == users_by_column == users_in_subquery == len(tenant.users)
    assert orgs == 1
    assert jobs == 0


def test_joins_subqueries_and_exists_see_only_the_sessions_organization(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    their_job = _their_job(runtime, other_tenant)
    theirs = other_tenant.users["agent"].id
    with runtime.db.session(Scope(tenant.id)) as s:
        joined = set(
            s.scalars(select(User.email).select_from(Organization).join(User, User.org_id == Organization.id))
        )
        joined_count = s.scalar(
            select(func.count()).select_from(User).join(Organization, Organization.id == User.org_id)
        )
        assert s.scalar(select(User.id).where(User.id == theirs).exists().select()) is False
        assert (
            list(s.scalars(select(Organization.id).where(select(User.id).where(User.id == theirs).exists())))
            == []
        )
        their_creator = select(Job.id).where(Job.created_by == User.id, Job.id == their_job).exists()
        assert list(s.scalars(select(User.id).where(their_creator))) == []
        assert (
            list(s.scalars(select(Job.id).where(Job.id == their_job, Job.created_by.in_(select(User.id)))))
            == []
        )
        theirs_aliased = aliased(User)
        assert s.scalar(select(func.count(theirs_aliased.id)).where(theirs_aliased.id == theirs)) == 0
        in_subquery = s.scalars(select(Organization.id).where(Organization.id.in_(select(User.org_id))))
        assert list(in_subquery) == [tenant.id]
    assert joined == {u.email for u in tenant.users.values()}
    assert joined_count == len(tenant.users)


def test_bulk_update_and_delete_by_id_leave_another_organizations_rows_alone(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    their_job = _their_job(runtime, other_tenant)
    theirs = other_tenant.users["agent"].id
    with runtime.db.session(Scope(tenant.id)) as s:
        renamed = s.execute(
            update(User).where(User.id == theirs).values(display_name="taken over")
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        deleted = s.execute(
            delete(Job).where(Job.id == their_job).execution_options(synchronize_session=False)
        )
        assert renamed.rowcount == 0 and deleted.rowcount == 0  # type: ignore[attr-defined]
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, theirs)
        assert user is not None and user.display_name != "taken over"
        assert s.get(Job, their_job) is not None


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: select(User.__table__), id="core-table"),
        pytest.param(lambda: select(func.count()).select_from(User.__table__), id="core-count"),
        pytest.param(
            lambda: select(User.email).join(Job.__table__, Job.__table__.c.created_by == User.id),
            id="orm-joined-to-core-table",
        ),
        # (aimed at no row: before the fix these ran, unscoped, and the session committed them)
        pytest.param(
            lambda: update(Job.__table__).where(Job.__table__.c.id == uuid.uuid4()).values(kind="x"),
            id="core-update",
        ),
        pytest.param(
            lambda: delete(Job.__table__).where(Job.__table__.c.id == uuid.uuid4()), id="core-delete"
        ),
        pytest.param(lambda: select(exists().where(User.id == uuid.uuid4())), id="exists-outside-orm"),
        pytest.param(lambda: select(exists().select_from(User)), id="exists-select-from-outside-orm"),
        # named only in a WHERE: an implied FROM that the ORM criteria never reach
        pytest.param(
            lambda: select(Organization.id).where(exists().where(User.id == uuid.uuid4())),
            id="bare-exists-in-where",
        ),
        pytest.param(
            lambda: select(User.id).where(exists().where(Job.created_by == User.id)), id="correlated"
        ),
        pytest.param(lambda: select(literal(1)).where(User.id == uuid.uuid4()), id="literal-where"),
        pytest.param(
            lambda: update(Job).where(Job.created_by == User.id, Job.id == uuid.uuid4()).values(kind="x"),
            id="update-from",
        ),
    ],
)
def test_statements_the_scope_cannot_filter_are_refused_loudly(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant, statement: Any
) -> None:
    """Core statements on organization tables (a Table, not the mapped class), statements SQLAlchemy does
    not compile as ORM (a bare `select(exists()...)`), and mapped classes named only in a WHERE (an implied
    FROM) get no ORM criteria: refused, not run."""
    with (
        pytest.raises(PermissionDeniedError, match="organization"),
        runtime.db.session(Scope(tenant.id)) as s,
    ):
        s.execute(statement())
