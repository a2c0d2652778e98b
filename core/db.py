"""Database engine, declarative base, and the one place where organization scoping is enforced.

Every ORM query runs in a session bound to a *scope*: one organization, or (for platform admins and
system jobs) all of them. A `do_orm_execute` hook adds `org_id = :scope` to every SELECT/UPDATE/DELETE
that touches an `OrgScoped` model, and `before_flush` stamps/validates `org_id` on writes. A session
without a scope refuses to query organization data at all, so forgetting the scope fails closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.sql.selectable import Select, TableClause
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


_IMPLIED_FROMS = ("_from_obj", "_correlate", "_correlate_except")


@dataclass
class _OrgDataUse:
    """What a statement does with organization data (see `_org_data_referenced`)."""

    mappers: set[Mapper[Any]]  # every organization-data mapper it names, anywhere
    core_tables: list[str]  # organization tables it names as plain Core tables or columns
    implied: list[str]  # mapped classes that are only an implied FROM (named in WHERE, not selected from)


def _org_data_referenced(statement: Any) -> _OrgDataUse:
    """Walk a statement (columns, FROMs, joins, criteria, subqueries, EXISTS, DML targets) for the
    organization data it touches, rather than trust its result columns (`all_mappers`): a
    `select(func.count()).select_from(User)` has no entity among its columns, and was taken for a query on
    no organization data.

    `with_loader_criteria` filters a mapped class where a SELECT selects it, selects from it or joins it
    (and a DML statement's target); a class a SELECT names only in its WHERE (`exists().where(User.id ==
    x)`, `select(literal(1)).where(...)`, an `UPDATE ... FROM`) becomes a FROM the criteria never see,
    unless it correlates to an enclosing SELECT that has it. Those are reported as `implied`."""
    org_tables = {
        table
        for m in Base.registry.mappers
        if issubclass(m.class_, OrgScoped | TenantRoot)
        for table in m.tables
    }
    use = _OrgDataUse(set(), [], [])

    def named_in(roots: Iterable[Any]) -> tuple[set[Mapper[Any]], list[Any]]:
        """Organization mappers named in `roots`, and the SELECTs nested in them (walked separately)."""
        found: set[Mapper[Any]] = set()
        nested: list[Any] = []
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            element = stack.pop()
            if id(element) in seen:
                continue
            seen.add(id(element))
            if isinstance(element, Select):
                nested.append(element)
                continue
            entity = element._annotations.get("parententity") if hasattr(element, "_annotations") else None
            if entity is not None:  # a mapped class, an alias of one, or one of their columns
                if issubclass(entity.mapper.class_, OrgScoped | TenantRoot):
                    found.add(entity.mapper)
                continue  # its columns lead back to its plain table, which is judged here, not below
            if isinstance(element, TableClause):
                if getattr(element, "__element__", element) in org_tables:
                    use.core_tables.append(element.name)
                continue
            stack.extend(element.get_children())
        return found, nested

    queue: list[tuple[Any, frozenset[Mapper[Any]]]] = [(statement, frozenset())]
    while queue:
        stmt, enclosing = queue.pop()
        if isinstance(stmt, Select):
            joins = [part for join in stmt._setup_joins for part in (join[0], join[2]) if part is not None]
            selected, _ = named_in(stmt._raw_columns)
            from_given, from_nested = named_in([*stmt._from_obj, *joins])
            given = selected | from_given
            # Select.get_children() adds the FROMs its columns imply, as plain tables even for mapped
            # columns: walk what the statement was given (columns, criteria, explicit FROMs) instead.
            named, nested = named_in(super(Select, stmt).get_children(omit_attrs=_IMPLIED_FROMS))
            named |= given
        else:
            target = getattr(stmt, "table", None)  # UPDATE / DELETE
            given, _ = named_in([target] if target is not None else [])
            from_nested = []
            named, nested = named_in(stmt.get_children())
        use.mappers |= named
        use.implied += [m.class_.__name__ for m in named - given - enclosing]
        # a SELECT in a FROM does not correlate; one in a column or in the criteria does
        queue += [(n, frozenset()) for n in from_nested]
        queue += [(n, enclosing | given) for n in nested if not any(n is f for f in from_nested)]
    return use


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_org_scope", False):  # used only for loading relationships
        return
    scope: Scope | None = state.session.info.get(_SCOPE_KEY)
    use = _org_data_referenced(state.statement)
    mappers = use.mappers | {m for m in state.all_mappers if issubclass(m.class_, OrgScoped | TenantRoot)}
    if not (mappers or use.core_tables):
        return
    if scope is None:
        raise PermissionDeniedError("query on organization data from a session without a scope")
    if scope.all_orgs:
        return
    # Fail closed: what the criteria below cannot reach is refused, never run across organizations.
    if use.core_tables:
        raise PermissionDeniedError(
            f"a Core statement on organization table(s) {', '.join(sorted(set(use.core_tables)))} cannot "
            "be scoped to the session's organization: use the mapped class (User, not User.__table__)"
        )
    if use.implied:
        raise PermissionDeniedError(
            f"organization data ({', '.join(sorted(set(use.implied)))}) named only in a WHERE clause, not "
            "selected from or joined, cannot be scoped to the session's organization: select_from() or "
            "join() it, e.g. select(Model.id).where(...).exists() rather than exists().where(...)"
        )
    if not state.is_orm_statement:
        raise PermissionDeniedError(
            "a statement on organization data that is not an ORM statement (such as select(exists()...)) "
            "cannot be scoped to the session's organization: select from the mapped class, e.g. "
            "select(Model.id).where(...).exists().select()"
        )
    org_id = scope.org_id
    options = [with_loader_criteria(OrgScoped, lambda cls: cls.org_id == org_id, include_aliases=True)]
    options += [
        with_loader_criteria(m.class_, m.class_.id == org_id, include_aliases=True)  # type: ignore[attr-defined]
        for m in mappers
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
