"""The web console: server-rendered pages (Jinja2) with htmx, on the API's accounts, roles and
organization scope. See docs/console.md ("How to add a page").

`ROUTES` is mounted by `api.app.create_app`; console paths are excluded from the API's bearer-token
middleware and authenticated by the session cookie instead (`api.console.auth`)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Router
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.middleware import DefineMiddleware
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from api.console import filters
from api.console.auth import ConsoleSessionMiddleware
from api.console.errors import EXCEPTION_HANDLERS, with_console_pages
from api.console.pages import (
    account,
    agent,
    audit,
    campaigns,
    compliance,
    consent,
    daily_reports,
    dnc_internal,
    dnc_lists,
    dnc_scrub,
    home,
    lead_lists,
    login,
    privacy,
    recordings,
    reports,
    wallboard,
)
from api.console.pages.admin_index import ADMIN_PAGES
from api.console.pages.agent_push import close_agent_screens
from api.console.wallboard import close_wallboards

HERE = Path(__file__).parent
STATIC_PREFIX = "/console/static"
# Paths the API's bearer-token middleware leaves alone: the console authenticates them itself.
NOT_BEARER_AUTHENTICATED = ["^/console", "^/$"]
__all__ = [
    "API_DOCS",
    "NOT_BEARER_AUTHENTICATED",
    "ROUTES",
    "TEMPLATES",
    "close_agent_screens",
    "close_wallboards",
    "with_console_pages",
]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.install(env)
    env.globals["static"] = lambda name: f"{STATIC_PREFIX}/{name}"
    return env


TEMPLATES = TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment()))

STATIC = create_static_files_router(
    path=STATIC_PREFIX,
    directories=[HERE / "static"],
    opt={"public": True, "exclude_from_auth": True, "console": True},
    include_in_schema=False,
    cache_control=None,
)

# /schema renders Swagger UI from the vendored files: the API docs work with no internet access.
API_DOCS = SwaggerRenderPlugin(
    js_url=f"{STATIC_PREFIX}/vendor/swagger-ui/swagger-ui-bundle.js",
    css_url=f"{STATIC_PREFIX}/vendor/swagger-ui/swagger-ui.css",
    standalone_preset_js_url=f"{STATIC_PREFIX}/vendor/swagger-ui/swagger-ui-standalone-preset.js",
    path="/",
    favicon=f'<link rel="icon" href="{STATIC_PREFIX}/favicon.svg">',
)

PAGES: list[ControllerRouterHandler] = [
    home.home,
    login.login_page,
    login.login_submit,
    login.new_password_submit,
    login.enrolment_page,
    login.enrolment_submit,
    login.logout,
    *campaigns.PAGES,
    *lead_lists.PAGES,
    *wallboard.PAGES,
    *reports.PAGES,
    *daily_reports.PAGES,
    *compliance.PAGES,
    *dnc_lists.PAGES,
    *dnc_internal.PAGES,
    *dnc_scrub.PAGES,
    *audit.PAGES,
    *privacy.PAGES,
    *recordings.PAGES,
    *ADMIN_PAGES,
    *agent.PAGES,
    *account.PAGES,
    *consent.PAGES,
]

ROUTES: list[ControllerRouterHandler] = [
    home.root,
    STATIC,
    Router(
        path="/",
        route_handlers=PAGES,
        middleware=[DefineMiddleware(ConsoleSessionMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    ),
]
