"""The console's navigation, built from the same role declarations that guard the pages.

A page module declares its section once (`section(label, href, roles)`) and uses `section.opt` as the
handler's options: the global role guard then refuses other roles (403 page) and the header shows the
link only to the roles that may follow it. A link a role may not follow is never rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.principal import Principal
from core.models import Role


def console_opt(*allowed: Role) -> dict[str, Any]:
    """Handler options of a console page or fragment: its roles (platform admins always may), excluded
    from the OpenAPI document and marked as console so the API's route tests walk it separately."""
    return {"roles": tuple(r.value for r in allowed), "console": True}


@dataclass(frozen=True)
class Section:
    label: str
    href: str
    roles: tuple[Role, ...]
    order: int = 100

    @property
    def opt(self) -> dict[str, Any]:
        return console_opt(*self.roles)

    def visible_to(self, principal: Principal) -> bool:
        return principal.is_platform_admin or principal.role in self.roles


SECTIONS: list[Section] = []


def section(label: str, href: str, roles: tuple[Role, ...], order: int = 100) -> Section:
    """Declare a navigation section (call at import of the page module)."""
    s = Section(label=label, href=href, roles=roles, order=order)
    SECTIONS.append(s)
    SECTIONS.sort(key=lambda x: x.order)
    return s


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if s.visible_to(principal)]
