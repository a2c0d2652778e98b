"""Which roles may use the campaigns routes."""

from __future__ import annotations

from core.models import Role

MANAGE = (Role.ORG_ADMIN, Role.MANAGER)
READ = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
LEAD_DATA = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE)
CALLING = (Role.ORG_ADMIN, Role.MANAGER, Role.AGENT)
