"""Admin > Organizations (platform admins only): list them and create one, through the same
`core.accounts` services as `/api/orgs` (the name rules and the "name not available" answer are there)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.nav import console_opt
from api.console.pages.admin import FormData, admin_page, field_errors, form_value
from core import accounts
from core.errors import ConflictError, ValidationError

PLATFORM_ONLY = console_opt()  # no organization role may: platform admins only


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return admin_page(
        request,
        "admin/orgs.html",
        "orgs",
        status_code=status_code,
        orgs_list=accounts.list_orgs(session),
        counts=accounts.user_counts(session),
        v=values or {},
        errors=errors or FormErrors(),
        notice=notice,
    )


@get("/console/admin/orgs", opt=PLATFORM_ONLY, include_in_schema=False, sync_to_thread=True)
def organizations(request: Request[Any, Any, Any], session: Session) -> Template:
    return _page(request, session)


@post("/console/admin/orgs/new", opt=PLATFORM_ONLY, include_in_schema=False, sync_to_thread=True)
def create_organization(request: Request[Any, Any, Any], session: Session, data: FormData) -> Response[Any]:
    name = form_value(data, "name")
    errors = FormErrors()
    try:
        org = accounts.create_org(session, name)
    except ValidationError as exc:
        session.rollback()
        field_errors(errors, exc, {})
    except ConflictError as exc:
        session.rollback()
        errors.add("name", str(exc))
    else:
        notice = {
            "kind": "ok",
            "title": f"{org.name} created.",
            "message": "Give it its first organization admin with “Add a user”.",
        }
        return _page(request, session, notice=notice)
    return _page(request, session, {"name": name}, errors, status_code=422)


PAGES = [organizations, create_organization]
