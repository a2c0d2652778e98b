"""Which roles may use the dnc routes, and the organization a DNC write belongs to."""

from __future__ import annotations

import uuid

from api.principal import Principal
from core.errors import PermissionDeniedError
from core.models import Role

ANY_ROLE = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
STAFF = (Role.ORG_ADMIN, Role.COMPLIANCE)


def own_org(principal: Principal) -> uuid.UUID:
    """DNC entries, policies and reports belong to one organization: the caller's."""
    if principal.org_id is None:
        raise PermissionDeniedError(
            "internal DNC entries belong to an organization; use an organization account"
        )
    return principal.org_id
