"""The Litestar application: middleware order, routes, OpenAPI, problem+json errors."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Empty

import dialer.campaign_settings  # noqa: F401 - registers the dialer's checks of campaign settings
from api import (
    abandon_routes,
    account_routes,
    agent_phones_routes,
    attestation_routes,
    campaigns,
    compliance_routes,
    console,
    dialer_routes,
    dnc,
    health,
    jobs,
    metrics_route,
    orgs,
    privacy_routes,
    recording_routes,
    report_routes,
    users,
    webhooks_routes,
)
from api.audit import AuditMiddleware
from api.auth import JWTAuthenticationMiddleware, login, logout, refresh, role_guard
from api.deps import DEPENDENCIES
from api.firewall import IPFirewallMiddleware
from api.input_guard import InputGuardMiddleware
from api.problems import EXCEPTION_HANDLERS, document_problem_responses
from api.request_id import OrgLogContextMiddleware, RequestIdMiddleware
from core.logging_json import json_logging
from core.runtime import Runtime, current_runtime

log = logging.getLogger(__name__)


def create_app(runtime: Runtime | None = None) -> Litestar:
    runtime = runtime or current_runtime()
    runtime.db.check_migrated()
    route_handlers = [
        health.health,
        login,
        refresh,
        logout,
        orgs.router,
        users.router,
        jobs.router,
        *dnc.ROUTES,
        *attestation_routes.ROUTES,
        *campaigns.ROUTES,
        *dialer_routes.ROUTES,
        *agent_phones_routes.ROUTES,
        *abandon_routes.ROUTES,
        *report_routes.ROUTES,
        *compliance_routes.ROUTES,
        *console.ROUTES,
        *metrics_route.ROUTES,
        *account_routes.ROUTES,
        *webhooks_routes.ROUTES,
        *privacy_routes.ROUTES,
        *recording_routes.ROUTES,
    ]
    document_problem_responses(route_handlers)
    app = Litestar(
        route_handlers=route_handlers,
        dependencies=DEPENDENCIES,
        guards=[role_guard],
        middleware=[
            RequestIdMiddleware,  # outermost: every request's log lines and response carry its id
            # First of all: values nothing downstream can store or compute with are refused here.
            DefineMiddleware(InputGuardMiddleware, max_body_bytes=runtime.settings.max_request_body_bytes),
            IPFirewallMiddleware,  # before authentication: refused addresses never reach it
            DefineMiddleware(
                JWTAuthenticationMiddleware, exclude=["^/schema", *console.NOT_BEARER_AUTHENTICATED]
            ),
            OrgLogContextMiddleware,
            AuditMiddleware,
        ],
        exception_handlers=console.with_console_pages(EXCEPTION_HANDLERS),
        request_max_body_size=runtime.settings.max_request_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Clearline API",
            version="0.1.0",
            path="/schema",
            render_plugins=[console.API_DOCS],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
            security=[{"bearer": []}],
        ),
        response_cache_config=ResponseCacheConfig(),
        template_config=console.TEMPLATES,
        on_shutdown=[console.close_wallboards, console.close_agent_screens],
        debug=False,
        # JSON logs: the process's root handler (core/logging_json.py) stays, Litestar must not replace it.
        logging_config=None if json_logging() else Empty,
    )
    app.state.runtime = runtime
    return app
