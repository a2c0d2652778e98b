"""Database engine, declarative base, and the one place where organization scoping is enforced.

Every ORM query runs in a session bound to a *scope*: one organization, or (for platform admins and
system jobs) all of them. A `do_orm_execute` hook adds `org_id = :scope` to every SELECT/UPDATE/DELETE
that touches an `OrgScoped` model, and `before_flush` stamps/validates `org_id` on writes. A session
without a scope refuses to query organization data at all, so forgetting the scope fails closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import Uuid

from core import audit_context  # registers the per-transaction actor settings the audit triggers read
from core.errors import NotMigratedError, PermissionDeniedError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), uuid.UUID: Uuid()}


class OrgScoped:
    """Mixin for every table whose rows belong to one organization (column `org_id`)."""

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False)


class TenantRoot:
    """Mixin for the organizations table itself: a scoped session sees only its own row."""


@dataclass(frozen=True)
class Scope:
    """Whose data a session may see: one organization, or every organization (`org_id is None`)."""

    org_id: uuid.UUID | None

    @property
    def all_orgs(self) -> bool:
        return self.org_id is None


ALL_ORGS = Scope(None)

_SCOPE_KEY = "clearline_scope"


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_org_scope", False):  # used only for loading relationships
        return
    scope: Scope | None = state.session.info.get(_SCOPE_KEY)
    touches_org_data = any(issubclass(m.class_, OrgScoped | TenantRoot) for m in state.all_mappers)
    if not touches_org_data:
        return
    if scope is None:
        raise PermissionDeniedError("query on organization data from a session without a scope")
    if scope.all_orgs:
        return
    org_id = scope.org_id
    options = [with_loader_criteria(OrgScoped, lambda cls: cls.org_id == org_id, include_aliases=True)]
    options += [
        with_loader_criteria(m.class_, m.class_.id == org_id, include_aliases=True)  # type: ignore[attr-defined]
        for m in state.all_mappers
        if issubclass(m.class_, TenantRoot)
    ]
    state.statement = state.statement.options(*options)


@event.listens_for(Session, "before_flush")
def _stamp_org_on_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    scope: Scope | None = session.info.get(_SCOPE_KEY)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, OrgScoped):
            continue
        if scope is None:
            raise PermissionDeniedError(f"write of {type(obj).__name__} from a session without a scope")
        current = obj.org_id
        if current is None and not scope.all_orgs:
            obj.org_id = scope.org_id
        elif not scope.all_orgs and current != scope.org_id:
            raise PermissionDeniedError(f"{type(obj).__name__} belongs to another organization")
        if obj in session.dirty and not scope.all_orgs:
            hist = inspect(obj).attrs.org_id.history  # type: ignore[union-attr]
            if hist.deleted and hist.deleted[0] != scope.org_id:
                raise PermissionDeniedError("an object cannot be moved between organizations")


class Database:
    """An engine plus a session factory; one per process."""

    def __init__(
        self, url: str, *, pool_size: int = 5, echo: bool = False, show_parameters: bool = False
    ) -> None:
        self.url = url
        # Bound parameters (password hashes, phone numbers) stay out of error messages and logs unless
        # CLEARLINE_DEBUG_SQL=1 asks for them while debugging.
        self.engine: Engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=10,
            pool_pre_ping=True,
            echo=echo,
            hide_parameters=not show_parameters,
            # The audit triggers name this process when no actor is set (core.audit_context).
            connect_args={"application_name": audit_context.process_name()[:63]},
        )
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, scope: Scope) -> Iterator[Session]:
        """A transaction bound to `scope`; commits on success, rolls back on error."""
        with self._factory() as session:
            session.info[_SCOPE_KEY] = scope
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def unscoped_session(self) -> Session:
        """A session with no scope: it may touch only tables that are not organization data."""
        return self._factory()

    def dispose(self) -> None:
        self.engine.dispose()

    def check_migrated(self) -> None:
        """Refuse to run on a database that is not at the newest migration, and say how to fix it."""
        from core.migrations import current_revision, head_revision

        current, head = current_revision(self.engine), head_revision()
        if current != head:
            raise NotMigratedError(
                f"the database is at migration {current or 'none'} but this Clearline needs {head}: "
                "run `clearline migrate` first"
            )


def scope_of(session: Session) -> Scope:
    scope = session.info.get(_SCOPE_KEY)
    if scope is None:
        raise PermissionDeniedError("session has no scope")
    return scope
