"""The admin area of the console: one navigation section ("Admin") for organization admins (and
platform admins), with a tab per page: users, caller IDs, certificates, agent phones, and, for platform
admins only, organizations. The pages live in `users.py`, `admin_numbers.py`, `certificates.py`,
`admin_phones.py` and `admin_orgs.py`; this module holds what they share (the section, the tabs, the
organization picker a platform admin gets on every "add" form, form decoding)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.nav import section
from api.console.render import is_htmx, page
from api.principal import Principal
from core.accounts import list_orgs
from core.errors import ValidationError
from core.models import Organization, Role

ADMIN = section("Admin", "/console/admin", (Role.ORG_ADMIN,), order=90)
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    href: str
    platform_only: bool = False


TABS = (
    Tab("users", "Users", "/console/admin/users"),
    Tab("caller-ids", "Caller IDs", "/console/admin/caller-ids"),
    Tab("certificates", "Certificates", "/console/admin/certificates"),
    Tab("agent-phones", "Agent phones", "/console/admin/agent-phones"),
    Tab("webhooks", "Webhooks", "/console/admin/webhooks"),
    Tab("orgs", "Organizations", "/console/admin/orgs", platform_only=True),
)


def admin_page(
    request: Request[Any, Any, Any], template: str, tab: str, status_code: int = 200, **extra: Any
) -> Template:
    principal: Principal = request.scope["user"]
    tabs = [t for t in TABS if principal.is_platform_admin or not t.platform_only]
    return page(
        request, template, status_code=status_code, section=ADMIN, tabs=tabs, current_tab=tab, **extra
    )


def go_to(request: Request[Any, Any, Any], target: str) -> Response[Any]:
    """After a successful form: load `target` (a full page), the way htmx and a plain form both follow."""
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)


def form_value(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return str(value[-1] if isinstance(value, list) else value)


class Organizations:
    """The organizations a platform admin chooses among on "add" forms (an org admin gets none: what
    they add is their own organization's), and their names for the lists' Organization column."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.principal = principal
        self.choices: list[Organization] = list_orgs(session) if principal.is_platform_admin else []
        self.names = {o.id: o.name for o in self.choices}

    def for_write(self, raw: str, errors: FormErrors, field: str = "org_id") -> uuid.UUID | None:
        """The organization a new object goes to (`principal.org_for_write`, as the API decides it)."""
        requested = None
        if self.principal.is_platform_admin:
            try:
                requested = uuid.UUID(raw)
            except ValueError:
                errors.add(field, "choose the organization")
                return None
        return self.principal.org_for_write(requested)


def field_errors(errors: FormErrors, exc: ValidationError, aliases: dict[str, str]) -> None:
    """A domain error shown next to the control of this form that carries its field."""
    name = exc.field or "form"
    errors.add(aliases.get(name, name), str(exc))


@get("/console/admin", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=False)
def admin_home() -> Redirect:
    return Redirect(path=TABS[0].href, status_code=303)


PAGES = [admin_home]
