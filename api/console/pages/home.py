"""The console's landing page: straight to the user's first section, or a page listing none."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from api.console.nav import console_opt, visible_sections
from api.console.render import page
from api.principal import Principal
from core.models import Role


@get("/console", opt=console_opt(*Role), include_in_schema=False, sync_to_thread=False)
def home(request: Request[Any, Any, Any], principal: Principal) -> Response[Any]:
    sections = visible_sections(principal)
    if sections:
        return Redirect(path=sections[0].href, status_code=303)
    return page(request, "home.html")


@get("/", opt={"public": True, "exclude_from_auth": True, "console": True}, include_in_schema=False)
async def root() -> Redirect:
    return Redirect(path="/console", status_code=303)
