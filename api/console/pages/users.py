"""Admin > Users: list, create (with a role), change a role, reset a password, deactivate and reactivate.
Each handler calls the services the API's `/api/users` routes call (`core.accounts`: `create_user`,
`grantable_role`, `update_user`, `deactivate_user`; `core.credentials.reset_password`): the password policy, the rule that only a platform
admin makes platform admins, and "you cannot deactivate yourself" live there, once. The organization
scope of the session makes another organization's user the 404 page. Passwords are never rendered back."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.auth import ROLE_LABELS
from api.console.forms import FormErrors
from api.console.pages.admin import (
    ADMIN,
    FormData,
    Organizations,
    admin_page,
    field_errors,
    form_value,
    go_to,
)
from api.principal import Principal
from core import accounts, credentials
from core.errors import ConflictError, ValidationError
from core.models import Role, User
from core.passwords import MIN_PASSWORD

ORG_ROLES = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
ROLE_HELP = {
    Role.ORG_ADMIN: "a manager's work plus this Admin area",
    Role.MANAGER: "campaigns, lead lists, wallboard, reports",
    Role.COMPLIANCE: "DNC lists, consent, geo/IP rules, audit log, reports",
    Role.AGENT: "takes calls on the agent screen",
    Role.PLATFORM_ADMIN: "every organization (platform operators)",
}
PASSWORD_HINT = (
    f"At least {MIN_PASSWORD} characters; not a common password, a keyboard run or the email address."
)


def _roles(principal: Principal, *, new_user: bool = True) -> list[tuple[str, str]]:
    """The roles offered (`accounts.grantable_role` refuses the ones this admin may not give anyway). A
    platform admin belongs to no organization, so only a new user is offered that role."""
    grantable = [*ORG_ROLES, Role.PLATFORM_ADMIN] if principal.is_platform_admin and new_user else ORG_ROLES
    return [(r.value, ROLE_LABELS[r]) for r in grantable]


def _role_help(principal: Principal, *, new_user: bool = True) -> str:
    roles = _roles(principal, new_user=new_user)
    return " ".join(f"{label}: {ROLE_HELP[Role(value)]}." for value, label in roles)


def _list(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    orgs = Organizations(session, principal)
    return admin_page(
        request,
        "admin/users.html",
        "users",
        status_code=status_code,
        users=accounts.list_users(session),
        orgs=orgs,
        roles=_roles(principal),
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        v=values or {"role": Role.AGENT.value, "org_id": request.query_params.get("org", "")},
        errors=errors or FormErrors(),
        password_hint=PASSWORD_HINT,
        role_help=_role_help(principal),
    )


@get("/console/admin/users", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def user_list(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    return _list(request, session, principal)


@post("/console/admin/users/new", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def create_user(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Response[Any]:
    values = {k: form_value(data, k) for k in ("email", "display_name", "role", "org_id")}
    errors = FormErrors()
    orgs = Organizations(session, principal)
    try:
        role = accounts.grantable_role(values["role"], granted_by=principal.role)
        org_id = None if role is Role.PLATFORM_ADMIN else orgs.for_write(values["org_id"], errors)
        if not errors:
            user = accounts.create_user(
                session,
                email=values["email"],
                password=form_value(data, "password"),
                role=role,
                org_id=org_id,
                display_name=values["display_name"].strip(),
            )
            return go_to(request, f"/console/admin/users/{user.id}?created=1")
    except ValidationError as exc:
        session.rollback()
        field_errors(errors, exc, {})
    except ConflictError as exc:  # the email is taken (somewhere: the message does not say where)
        session.rollback()
        errors.add("email", str(exc))
    return _list(request, session, principal, values, errors, status_code=422)


# ------------------------------------------------------------------------------------------ one user


def _user_page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    user: User,
    *,
    notice: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
    temporary_password: str = "",
) -> Template:
    if notice is None and request.query_params.get("created"):
        notice = {"kind": "ok", "title": "User created.", "message": f"{user.email} can log in now."}
    orgs = Organizations(session, principal)
    return admin_page(
        request,
        "admin/user.html",
        "users",
        status_code=status_code,
        user=user,
        org_name=orgs.names.get(user.org_id) if user.org_id else None,
        is_me=user.id == principal.user_id,
        roles=_roles(principal, new_user=False),
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        notice=notice,
        errors=errors or FormErrors(),
        password_hint=PASSWORD_HINT,
        role_help=_role_help(principal, new_user=False),
        temporary_password=temporary_password,
    )


@get("/console/admin/users/{user_id:uuid}", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def user_detail(
    request: Request[Any, Any, Any], user_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    return _user_page(request, session, principal, accounts.get_user(session, user_id))


def _change(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    user_id: uuid.UUID,
    change: Any,
    done: str,
) -> Template:
    """Apply one change to a user through `core.accounts`; a refusal is shown next to its field."""
    user = accounts.get_user(session, user_id)
    errors = FormErrors()
    try:
        change(user)
        session.flush()
    except ValidationError as exc:
        session.rollback()
        field_errors(errors, exc, {"user_id": "is_active"})
        return _user_page(
            request, session, principal, accounts.get_user(session, user_id), errors=errors, status_code=422
        )
    return _user_page(
        request, session, principal, user, notice={"kind": "ok", "title": "Saved.", "message": done}
    )


@post("/console/admin/users/{user_id:uuid}/role", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def change_role(
    request: Request[Any, Any, Any],
    user_id: uuid.UUID,
    session: Session,
    principal: Principal,
    data: FormData,
) -> Template:
    accounts.get_user(session, user_id)  # another organization's user: 404 before anything else
    role = accounts.grantable_role(form_value(data, "role"), granted_by=principal.role)  # refusal: 403
    return _change(
        request,
        session,
        principal,
        user_id,
        lambda u: accounts.update_user(session, u, role=role),
        f"The role is now {ROLE_LABELS[role]}; the user's sessions were ended, they log in again.",
    )


@post(
    "/console/admin/users/{user_id:uuid}/password",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def reset_password(
    request: Request[Any, Any, Any], user_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    """The API's reset (`credentials.reset_password`, as POST /api/users/{id}/password-reset): a temporary
    password, shown in this answer only (not stored in the page's URL, not cached, never logged); the user
    must choose a new one at their next login."""
    user = accounts.get_user(session, user_id)  # another organization's user: 404
    temporary = credentials.reset_password(session, user)
    session.flush()
    response = _user_page(
        request,
        session,
        principal,
        user,
        notice={
            "kind": "ok",
            "title": "The password was reset.",
            "message": "The user's sessions were ended.",
        },
        temporary_password=temporary,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@post(
    "/console/admin/users/{user_id:uuid}/deactivate",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def deactivate_user(
    request: Request[Any, Any, Any], user_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    return _change(
        request,
        session,
        principal,
        user_id,
        lambda u: accounts.deactivate_user(session, u, by_user_id=principal.user_id),
        "The user is deactivated: they cannot log in, and their sessions were ended.",
    )


@post(
    "/console/admin/users/{user_id:uuid}/reactivate",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def reactivate_user(
    request: Request[Any, Any, Any], user_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    return _change(
        request,
        session,
        principal,
        user_id,
        lambda u: accounts.update_user(session, u, is_active=True),
        "The user can log in again.",
    )


PAGES = [user_list, create_user, user_detail, change_role, reset_password, deactivate_user, reactivate_user]
