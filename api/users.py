"""Users of an organization: org admins manage them; everyone can read themselves."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Router, delete, get, patch, post
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from core import accounts
from core.models import Role, User

ANY_ROLE = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)


class UserOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID | None
    email: str
    display_name: str
    role: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            org_id=u.org_id,
            email=u.email,
            display_name=u.display_name,
            role=u.role.value,
            is_active=u.is_active,
            created_at=u.created_at,
            last_login_at=u.last_login_at,
        )


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    role: str
    display_name: str = ""
    org_id: uuid.UUID | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    display_name: str | None = None
    role: str | None = None
    password: str | None = None
    is_active: bool | None = None


def _role(value: str, principal: Principal) -> Role:
    return accounts.grantable_role(value, granted_by=principal.role)


@get("/me", opt=roles(*ANY_ROLE), sync_to_thread=True)
def me(principal: Principal, session: Session) -> UserOut:
    return UserOut.of(accounts.get_user(session, principal.user_id))


@get("/", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def list_users(session: Session) -> list[UserOut]:
    return [UserOut.of(u) for u in accounts.list_users(session)]


@post("/", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def add_user(data: UserCreate, principal: Principal, session: Session) -> UserOut:
    role = _role(data.role, principal)
    org_id = None if role is Role.PLATFORM_ADMIN else principal.org_for_write(data.org_id)
    return UserOut.of(
        accounts.create_user(
            session,
            email=data.email,
            password=data.password,
            role=role,
            org_id=org_id,
            display_name=data.display_name,
        )
    )


@get("/{user_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def get_user(user_id: uuid.UUID, session: Session) -> UserOut:
    return UserOut.of(accounts.get_user(session, user_id))


@patch("/{user_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def update_user(user_id: uuid.UUID, data: UserUpdate, principal: Principal, session: Session) -> UserOut:
    user = accounts.get_user(session, user_id)
    role = _role(data.role, principal) if data.role is not None else None
    if data.is_active is False:
        accounts.deactivate_user(session, user, by_user_id=principal.user_id)
    accounts.update_user(
        session,
        user,
        display_name=data.display_name,
        role=role,
        password=data.password,
        is_active=data.is_active,
    )
    return UserOut.of(user)


@delete("/{user_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def deactivate_user(user_id: uuid.UUID, principal: Principal, session: Session) -> None:
    """Users are deactivated, not deleted: audit rows and call evidence keep pointing at them."""
    user = accounts.get_user(session, user_id)
    accounts.deactivate_user(session, user, by_user_id=principal.user_id, field="user_id")


router = Router(
    "/api/users",
    route_handlers=[me, list_users, add_user, get_user, update_user, deactivate_user],
    tags=["users"],
)
