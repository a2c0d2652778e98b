"""Every page of the admin area, registered together in `api.console.PAGES`."""

from __future__ import annotations

from api.console.pages import (
    admin,
    admin_numbers,
    admin_orgs,
    admin_phones,
    admin_webhooks,
    certificates,
    users,
)

ADMIN_PAGES = [
    *admin.PAGES,
    *users.PAGES,
    *admin_numbers.PAGES,
    *certificates.PAGES,
    *admin_phones.PAGES,
    *admin_orgs.PAGES,
    *admin_webhooks.PAGES,
]
