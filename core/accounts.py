"""Organizations and users: the services the CLI and the API share."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import ConflictError, ValidationError
from core.models import Organization, Role, User
from core.security import hash_password

_SLUG = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 12


def slugify(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:64] or "org"


def create_org(session: Session, name: str) -> Organization:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError("organization name must be 1-200 characters", field="name")
    if session.scalar(select(func.count()).select_from(Organization).where(Organization.name == name)):
        raise ConflictError(f"an organization named {name!r} already exists")
    org = Organization(name=name, slug=slugify(name), settings={})
    session.add(org)
    session.flush()
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


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must be at least {MIN_PASSWORD} characters", field="password")


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    org_id: uuid.UUID | None,
    display_name: str = "",
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError(f"{email!r} is not an email address", field="email")
    validate_password(password)
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
        raise ConflictError(f"a user with email {email} already exists") from exc
    return user
