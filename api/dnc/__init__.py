"""HTTP routes of the dnc package, one module per resource (lists, internal DNC, policy, check, scrub
reports) over the service functions of `dnc`; request and response bodies are in `schemas`. The IP
firewall that applies the policy to every request is `api.firewall`."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from api.dnc import check, internal, lists, policy, scrub

ROUTES: list[ControllerRouterHandler] = [
    Router(
        "/",
        tags=["dnc"],
        route_handlers=[*lists.ROUTES, *internal.ROUTES, *policy.ROUTES, *check.ROUTES, *scrub.ROUTES],
    )
]
