"""Organizations and users: the services the CLI and the API share.

Changes that must void a user's tokens (password, role, deactivation, MFA reset) go through
`update_user` / `bump_token_version` here, and nowhere else.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import ALL_ORGS, Database, utcnow
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.models import AuthSession, Organization, Role, User
from core.passwords import validate_password
from core.security import hash_password

K = TypeVar("K")
V = TypeVar("V")
_SLUG = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    """The one form of an email address: stored, looked up, throttled and firewalled by it."""
    return email.strip().lower()


def slugify(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:64] or "org"


NAME_TAKEN = "this organization name is not available; choose another"


def _org_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError("organization name must be 1-200 characters", field="name")
    return name


def _name_taken(session: Session, name: str, *, other_than: uuid.UUID | None = None) -> bool:
    # Names are unique across organizations, so the check must see them all; it answers only yes/no.
    query = select(func.count()).select_from(Organization).where(Organization.name == name)
    if other_than is not None:
        query = query.where(Organization.id != other_than)
    return bool(session.scalar(query, execution_options={"skip_org_scope": True}))


def _free_slug(session: Session, name: str) -> str:
    """The slug of `name`, suffixed -2, -3... when another organization's name already made it."""
    base = slugify(name)
    taken = set(
        session.scalars(
            select(Organization.slug).where(Organization.slug.like(base[:56] + "%")),
            execution_options={"skip_org_scope": True},
        )
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base[:56]}-{n}"
    return slug


def create_org(session: Session, name: str) -> Organization:
    name = _org_name(name)
    if _name_taken(session, name):
        raise ConflictError(NAME_TAKEN)
    org = Organization(name=name, slug=_free_slug(session, name), settings={})
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
    except IntegrityError as exc:  # a concurrent creation took the name or slug first
        raise ConflictError(NAME_TAKEN) from exc
    return org


def rename_org(session: Session, org: Organization, name: str) -> Organization:
    """Rename keeps the slug (it may be in URLs and scripts). A taken name is a 409 that says only that
    the name is not available: nothing about the organization holding it."""
    name = _org_name(name)
    if name == org.name:
        return org
    if _name_taken(session, name, other_than=org.id):
        raise ConflictError(NAME_TAKEN)
    org.name = name
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(NAME_TAKEN) from exc
    return org


def find_org(session: Session, ref: str) -> Organization | None:
    """An organization by id, slug or name (CLI convenience)."""
    try:
        by_id = session.get(Organization, uuid.UUID(ref))
        if by_id:
            return by_id
    except ValueError:
        pass
    return session.scalars(
        select(Organization).where((Organization.slug == ref) | (Organization.name == ref))
    ).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    org_id: uuid.UUID | None,
    display_name: str = "",
) -> User:
    email = normalize_email(email)
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError(f"{email!r} is not an email address", field="email")
    validate_password(password, email=email)
    if role is Role.PLATFORM_ADMIN:
        org_id = None
    elif org_id is None:
        raise ValidationError(f"a {role.value} must belong to an organization", field="org_id")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        org_id=org_id,
        display_name=display_name,
    )
    # The uniqueness check must see every organization's users, so it is left to the database.
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        # Emails are unique platform-wide; the answer must not tell an org admin that some other
        # organization has this address (nor echo it), only that it cannot be used.
        raise ConflictError(
            "this email address cannot be used for a new user; if the person already has an account, "
            "ask a platform admin"
        ) from exc
    return user


# --------------------------------------------------------------------- changes that void tokens


def bump_token_version(session: Session, user: User) -> None:
    """Void every token the user holds (access and refresh, every session), effective at commit."""
    user.token_version = (user.token_version or 0) + 1
    forget_account_after_commit(session, user.id)


def update_user(
    session: Session,
    user: User,
    *,
    display_name: str | None = None,
    role: Role | None = None,
    password: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user. A new password, a new role and a deactivation each void the user's tokens; a
    reactivation does not revive them (they were voided when the user was deactivated)."""
    void = False
    if display_name is not None:
        user.display_name = display_name
    if role is not None and role is not user.role:
        user.role = role
        void = True
    if password is not None:
        validate_password(password, email=user.email)
        user.password_hash = hash_password(password)
        void = True
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        void = void or not is_active
    if void:
        bump_token_version(session, user)
    forget_account_after_commit(session, user.id)
    return user


def reset_mfa(session: Session, user: User) -> None:
    """There is no second factor yet; resetting one must void the tokens it protected, so the hook exists."""
    bump_token_version(session, user)


# ------------------------------------------------------------ who a token's user is, right now


@dataclass(frozen=True)
class AccountState:
    """What the database says about a user, as every request must see it (not what the token says)."""

    user_id: uuid.UUID
    org_id: uuid.UUID | None
    role: Role
    email: str
    is_active: bool
    token_version: int


# Read on every request; cached briefly so a burst of requests costs one query. Changes made in this
# process drop the entry at commit; other processes see them within ACCOUNT_CACHE_TTL_S.
ACCOUNT_CACHE_TTL_S = 2.0


class _BriefCache(Generic[K, V]):
    """A thread-safe map whose entries live ACCOUNT_CACHE_TTL_S seconds."""

    def __init__(self) -> None:
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < ACCOUNT_CACHE_TTL_S:
            return hit[1]
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)


_accounts: _BriefCache[uuid.UUID, AccountState | None] = _BriefCache()
_sessions: _BriefCache[uuid.UUID, bool] = _BriefCache()


def account_state(db: Database, user_id: uuid.UUID) -> AccountState | None:
    def load() -> AccountState | None:
        with db.session(ALL_ORGS) as s:
            u = s.get(User, user_id)
            if u is None:
                return None
            return AccountState(u.id, u.org_id, u.role, u.email, u.is_active, u.token_version or 0)

    return _accounts.get_or_load(user_id, load)


def session_is_live(db: Database, session_id: uuid.UUID) -> bool:
    """A login session that is neither revoked nor past its absolute expiry."""

    def load() -> bool:
        with db.session(ALL_ORGS) as s:
            row = s.get(AuthSession, session_id)
            return row is not None and row.revoked_at is None and row.expires_at > utcnow()

    return _sessions.get_or_load(session_id, load)


def forget_account(user_id: uuid.UUID) -> None:
    _accounts.forget(user_id)


def forget_session(session_id: uuid.UUID) -> None:
    _sessions.forget(session_id)


def forget_account_after_commit(session: Session, user_id: uuid.UUID) -> None:
    forget_account(user_id)  # now, and again once the change is visible to other sessions
    event.listen(session, "after_commit", lambda _s: forget_account(user_id), once=True)


def forget_session_after_commit(session: Session, session_id: uuid.UUID) -> None:
    forget_session(session_id)
    event.listen(session, "after_commit", lambda _s: forget_session(session_id), once=True)


# ----------------------------------------------- administering users and organizations (API, console)


def grantable_role(value: str, *, granted_by: Role) -> Role:
    """The role named `value`, if someone of role `granted_by` may give it: only a platform admin makes
    platform admins (an org admin cannot escalate anyone, themselves included, out of the organization)."""
    try:
        role = Role(value)
    except ValueError as exc:
        raise ValidationError(
            f"unknown role {value!r}; one of {[r.value for r in Role]}", field="role"
        ) from exc
    if role is Role.PLATFORM_ADMIN and granted_by is not Role.PLATFORM_ADMIN:
        raise PermissionDeniedError("only a platform admin can grant platform_admin")
    return role


def list_users(session: Session) -> list[User]:
    """The users the session's scope sees (an organization's, or every one for a platform admin)."""
    return list(session.scalars(select(User).order_by(User.email)))


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.scalars(select(User).where(User.id == user_id)).one_or_none()
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def deactivate_user(session: Session, user: User, *, by_user_id: uuid.UUID, field: str = "is_active") -> User:
    """Deactivate (never delete: audit rows and call evidence keep pointing at the user); nobody can
    deactivate themselves, so an organization is never left without the admin who acted."""
    if user.id == by_user_id:
        raise ValidationError("you cannot deactivate yourself", field=field)
    return update_user(session, user, is_active=False)


def list_orgs(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def get_org(session: Session, org_id: uuid.UUID) -> Organization:
    org = session.scalars(select(Organization).where(Organization.id == org_id)).one_or_none()
    if org is None:
        raise NotFoundError(f"organization {org_id} not found")
    return org


def user_counts(session: Session) -> dict[uuid.UUID, int]:
    """Active users per organization the scope sees (the organizations page)."""
    rows = session.execute(
        select(User.org_id, func.count())
        .where(User.is_active, User.org_id.is_not(None))
        .group_by(User.org_id)
    )
    return {org_id: count for org_id, count in rows if org_id is not None}
