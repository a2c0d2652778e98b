"""Who is calling: the authenticated user as the API sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.db import ALL_ORGS, Scope
from core.errors import PermissionDeniedError
from core.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    org_id: uuid.UUID | None
    role: Role
    email: str
    session_id: uuid.UUID | None = None  # the login session the request's token belongs to

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    @property
    def scope(self) -> Scope:
        """Platform admins span every organization; everyone else is confined to their own."""
        return ALL_ORGS if self.is_platform_admin else Scope(self.org_id)

    def org_for_write(self, requested: uuid.UUID | None = None) -> uuid.UUID:
        """The organization a new object belongs to: one's own, or (platform admin only) the named one."""
        if self.is_platform_admin:
            if requested is None:
                raise PermissionDeniedError("a platform admin must name the organization (org_id)")
            return requested
        assert self.org_id is not None
        if requested is not None and requested != self.org_id:
            raise PermissionDeniedError("cannot act on another organization")
        return self.org_id
