"""Routes of the organization's compliance policy (geo rules and the API's IP firewall). Compliance staff
and org admins edit their own organization's; a platform admin reads, edits and resets any (`org_id`)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, delete, get, patch, put
from sqlalchemy.orm import Session

from api.auth import roles
from api.client_ip import client_ip
from api.dnc.access import STAFF
from api.dnc.schemas import PolicyIO, PolicyPatch
from api.principal import Principal
from core.errors import ValidationError
from core.runtime import Runtime
from dnc.policy import read_policy, replace_policy, reset_policy, update_policy

ORG_ID_DOC = "Platform admins: the organization whose policy this is (required for them, ignored otherwise)."


def policy_org(principal: Principal, org_id: uuid.UUID | None) -> uuid.UUID:
    """Whose policy a request reads or writes (the API's and the console's policy pages)."""
    if principal.is_platform_admin:
        if org_id is None:
            raise ValidationError("a platform admin must name the organization: ?org_id=", field="org_id")
        return org_id
    return principal.org_for_write(org_id)


def saver_ip(request: Request[Any, Any, Any], principal: Principal, runtime: Runtime) -> str | None:
    """The address a policy change must not lock out (`dnc.policy.update_policy` refuses that change)."""
    # A platform admin is not subject to an organization's firewall: no lock-out to prevent.
    return None if principal.is_platform_admin else client_ip(request.scope, runtime.settings.trusted_proxies)


@get("/api/dnc/policy", opt=roles(*STAFF), sync_to_thread=True, description=ORG_ID_DOC)
def get_policy(principal: Principal, session: Session, org_id: uuid.UUID | None = None) -> PolicyIO:
    return PolicyIO.of(read_policy(session, policy_org(principal, org_id)))


@put(
    "/api/dnc/policy",
    opt=roles(*STAFF),
    sync_to_thread=True,
    description="Replace the whole policy (rules left out take their defaults). " + ORG_ID_DOC,
)
def put_policy(
    data: PolicyIO,
    request: Request[Any, Any, Any],
    principal: Principal,
    session: Session,
    runtime: Runtime,
    org_id: uuid.UUID | None = None,
) -> PolicyIO:
    saver = saver_ip(request, principal, runtime)
    return PolicyIO.of(replace_policy(session, policy_org(principal, org_id), data.rules(), saver_ip=saver))


@patch(
    "/api/dnc/policy",
    opt=roles(*STAFF),
    sync_to_thread=True,
    description="Change only the rules given; the others stay. " + ORG_ID_DOC,
)
def patch_policy(
    data: PolicyPatch,
    request: Request[Any, Any, Any],
    principal: Principal,
    session: Session,
    runtime: Runtime,
    org_id: uuid.UUID | None = None,
) -> PolicyIO:
    saver = saver_ip(request, principal, runtime)
    return PolicyIO.of(update_policy(session, policy_org(principal, org_id), data.given(), saver_ip=saver))


@delete(
    "/api/dnc/policy",
    opt=roles(*STAFF),
    sync_to_thread=True,
    status_code=200,
    description="Reset to the default policy (no IP rules, US only). " + ORG_ID_DOC,
)
def reset_policy_route(principal: Principal, session: Session, org_id: uuid.UUID | None = None) -> PolicyIO:
    return PolicyIO.of(reset_policy(session, policy_org(principal, org_id)))


ROUTES = [get_policy, put_policy, patch_policy, reset_policy_route]
