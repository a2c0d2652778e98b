"""TN inventory: numbers and ranges per organization, their status, and local-presence caller IDs."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from attestation import inventory
from core.db import Scope
from core.errors import ConflictError, ValidationError
from tests.attestation.conftest import Org


def _add(org: Org, first: str, last: str | None = None, *, verify: bool = True) -> None:
    with org.runtime.db.session(Scope(org.id)) as s:
        block = inventory.add_numbers(s, org_id=org.id, first=first, last=last)
        if verify:
            inventory.set_status(s, block.id, "verified", at=datetime.now(UTC))


def _status(org: Org, number: str) -> str | None:
    with org.runtime.db.session(Scope(org.id)) as s:
        return inventory.number_status(s, org.id, number)


def _pick(org: Org, lead: str) -> str | None:
    with org.runtime.db.session(Scope(org.id)) as s:
        return inventory.pick_caller_id(s, org.id, lead)


def test_status_of_single_numbers_and_numbers_inside_ranges(org: Org) -> None:
    _add(org, "+12025550143")
    _add(org, "+13035550100", "+13035550199", verify=False)
    assert _status(org, "+12025550143") == "verified"
    assert _status(org, "12025550143") == "verified"
    assert _status(org, "+13035550150") == "pending"
    assert _status(org, "+13035550200") is None
    assert _status(org, "+1202555014") is None  # a prefix is not the number
    assert _status(org, "garbage") is None


def test_another_organizations_numbers_are_not_ours(org: Org, other_org: Org) -> None:
    _add(other_org, "+14155550123", verify=False)
    assert _status(org, "+14155550123") is None
    _add(org, "+14155550123", verify=False)  # unverified claims prove nothing: both may claim it
    assert _status(org, "+14155550123") == "pending"
    assert _status(other_org, "+14155550123") == "pending"


def test_a_range_verified_for_another_organization_cannot_be_added_or_verified_naming_neither(
    org: Org, other_org: Org
) -> None:
    _add(other_org, "+14155550200", "+14155550299")
    with pytest.raises(ConflictError, match="another organization") as info:
        _add(org, "+14155550290", "+14155550310", verify=False)
    assert str(other_org.id) not in str(info.value) and "+14155550200" not in str(info.value)
    _add(org, "+14155550300", "+14155550310", verify=False)  # right after it: free
    with org.runtime.db.session(Scope(org.id)) as s:
        block = inventory.add_numbers(s, org_id=org.id, first="+14155550400")
    _add(other_org, "+14155550400")  # verified there first
    with (
        pytest.raises(ConflictError, match="another organization"),
        org.runtime.db.session(Scope(org.id)) as s,
    ):
        inventory.set_status(s, block.id, "verified", at=datetime.now(UTC))


def test_overlapping_and_malformed_entries_are_refused(org: Org) -> None:
    _add(org, "+16175550100", "+16175550199")
    with pytest.raises(ConflictError, match="overlaps"):
        _add(org, "+16175550150")
    with pytest.raises(ValidationError, match=r"not an E\.164 number") as info:
        _add(org, "617-555-0100")
    assert info.value.field == "first"
    with pytest.raises(ValidationError, match="upward"):
        _add(org, "+16175550300", "+16175550200")
    with pytest.raises(ValidationError, match="at most"):
        _add(org, "+16170000000", "+16179999999")


def test_local_presence_picks_a_verified_number_in_the_leads_area_code(org: Org) -> None:
    _add(org, "+12125550100", "+12125550109")
    _add(org, "+13125550100", verify=False)
    _add(org, "+14155550100")
    picked = {_pick(org, f"+1212555{n:04d}") for n in range(40)}
    assert picked <= {f"+121255501{n:02d}" for n in range(10)} and len(picked) > 3
    assert _pick(org, "+12125559999") == _pick(org, "+12125559999")  # stable per lead
    assert _pick(org, "+14155551234") == "+14155550100"
    assert _pick(org, "+13125551234") is None  # only an unverified number there
    assert _pick(org, "+17185551234") is None  # no number in 718
    assert _pick(org, "+442071838750") is None  # not NANP


def _level(org: Org, number: str) -> str:
    from attestation.policy import attestation_for

    with org.runtime.db.session(Scope(org.id)) as s:
        return attestation_for(inventory.caller_standing(s, org.id, number)).level


def test_the_attestation_level_follows_what_the_platform_verified_of_the_organization(
    org: Org, other_org: Org
) -> None:
    # Numbers of this run only: a verified number is one organization's for good (the database outlives runs).
    exchange = f"+1505{random.randrange(200, 1000)}{random.randrange(100, 1000)}"
    pending, verified, other, absent = (exchange + d for d in "1234")
    _add(org, pending, verify=False)
    assert _level(org, pending) == "C"  # nothing verified yet: not an authenticated customer
    assert _level(org, verified) == "C"
    _add(other_org, other)  # another organization's verification vouches for no one else
    assert _level(org, pending) == "C"
    _add(org, verified)  # the platform verified one of this organization's numbers
    assert _level(org, verified) == "A"
    assert _level(org, pending) == "B"  # still pending
    assert _level(org, absent) == "B"  # not in its inventory
