"""TN inventory: numbers and ranges per organization, their status, and local-presence caller IDs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from attestation import inventory
from core.db import Scope
from core.errors import ConflictError, ValidationError
from core.runtime import Runtime
from tests.conftest import Tenant


def _add(tenant: Tenant, first: str, last: str | None = None, *, verify: bool = True) -> None:
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        block = inventory.add_numbers(s, org_id=tenant.id, first=first, last=last)
        if verify:
            inventory.set_status(s, block.id, "verified", at=datetime.now(UTC))


def _status(tenant: Tenant, number: str) -> str | None:
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        return inventory.number_status(s, tenant.id, number)


def _pick(tenant: Tenant, lead: str) -> str | None:
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        return inventory.pick_caller_id(s, tenant.id, lead)


def test_status_of_single_numbers_and_numbers_inside_ranges(tenant: Tenant) -> None:
    _add(tenant, "+12025550143")
    _add(tenant, "+13035550100", "+13035550199", verify=False)
    assert _status(tenant, "+12025550143") == "verified"
    assert _status(tenant, "12025550143") == "verified"
    assert _status(tenant, "+13035550150") == "pending"
    assert _status(tenant, "+13035550200") is None
    assert _status(tenant, "+1202555014") is None  # a prefix is not the number
    assert _status(tenant, "garbage") is None


def test_another_organizations_numbers_are_not_ours(tenant: Tenant, other_tenant: Tenant) -> None:
    _add(other_tenant, "+14155550123")
    assert _status(tenant, "+14155550123") is None
    _add(tenant, "+14155550123", verify=False)  # both may claim it; each sees only its own status
    assert _status(tenant, "+14155550123") == "pending"
    assert _status(other_tenant, "+14155550123") == "verified"


def test_overlapping_and_malformed_entries_are_refused(tenant: Tenant) -> None:
    _add(tenant, "+16175550100", "+16175550199")
    with pytest.raises(ConflictError, match="overlaps"):
        _add(tenant, "+16175550150")
    with pytest.raises(ValidationError, match=r"not an E\.164 number") as info:
        _add(tenant, "617-555-0100")
    assert info.value.field == "first"
    with pytest.raises(ValidationError, match="upward"):
        _add(tenant, "+16175550300", "+16175550200")
    with pytest.raises(ValidationError, match="at most"):
        _add(tenant, "+16170000000", "+16179999999")


def test_local_presence_picks_a_verified_number_in_the_leads_area_code(
    runtime: Runtime, tenant: Tenant
) -> None:
    _add(tenant, "+12125550100", "+12125550109")
    _add(tenant, "+13125550100", verify=False)
    _add(tenant, "+14155550100")
    picked = {_pick(tenant, f"+1212555{n:04d}") for n in range(40)}
    assert picked <= {f"+121255501{n:02d}" for n in range(10)} and len(picked) > 3
    assert _pick(tenant, "+12125559999") == _pick(tenant, "+12125559999")  # stable per lead
    assert _pick(tenant, "+14155551234") == "+14155550100"
    assert _pick(tenant, "+13125551234") is None  # only an unverified number there
    assert _pick(tenant, "+17185551234") is None  # no number in 718
    assert _pick(tenant, "+442071838750") is None  # not NANP
