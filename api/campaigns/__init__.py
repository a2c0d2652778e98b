"""HTTP routes of the campaigns package, one module per resource (campaigns, lead lists, leads, call
attempts) over the service functions of `campaigns`; request and response bodies are in `schemas`."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from api.campaigns import attempts, campaigns, lead_lists, leads

ROUTES: list[ControllerRouterHandler] = [
    Router(
        "/",
        tags=["campaigns"],
        route_handlers=[*campaigns.ROUTES, *lead_lists.ROUTES, *leads.ROUTES, *attempts.ROUTES],
    )
]
