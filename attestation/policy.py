"""Which attestation level a call earns (ATIS-1000074 §5.2.3), and why. Pure: data in, decision out.

A: we authenticated the customer and the calling number is in its *verified* TN inventory.
B: the customer is authenticated but the number is not verified (unknown, pending or rejected).
C: we cannot vouch for the customer (gateway traffic).

"Authenticated customer" is derived from what the platform has verified about the organization, never
assumed: an organization is an authenticated customer once a platform admin has verified at least one of
its numbers (the TN authorization check, `PATCH /api/attestation/numbers/{id}`, which an organization
cannot do for itself). Before that, nothing the platform checked vouches for who is calling: C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttestationLevel = Literal["A", "B", "C"]

VERIFIED_NUMBER = "verified_number"
NUMBER_NOT_IN_INVENTORY = "number_not_in_inventory"
NUMBER_NOT_VERIFIED = "number_not_verified"
CUSTOMER_NOT_AUTHENTICATED = "customer_not_authenticated"


@dataclass(frozen=True)
class CallerStanding:
    """What the platform has verified about an organization and the number one of its calls presents."""

    number_status: str | None
    """The calling number in the organization's TN inventory: verified | pending | rejected | None."""
    verified_numbers: int
    """How many of the organization's TN blocks a platform admin has verified."""

    @property
    def customer_authenticated(self) -> bool:
        return self.verified_numbers > 0


@dataclass(frozen=True)
class AttestationDecision:
    level: AttestationLevel
    reason: str


def decide_attestation(*, customer_authenticated: bool, number_status: str | None) -> AttestationDecision:
    """`number_status` is the calling number's status in the organization's TN inventory
    (`"verified"`, `"pending"`, `"rejected"`), or None when the number is not in it at all."""
    if not customer_authenticated:
        return AttestationDecision("C", CUSTOMER_NOT_AUTHENTICATED)
    if number_status == "verified":
        return AttestationDecision("A", VERIFIED_NUMBER)
    if number_status is None:
        return AttestationDecision("B", NUMBER_NOT_IN_INVENTORY)
    return AttestationDecision("B", NUMBER_NOT_VERIFIED)


def attestation_for(standing: CallerStanding) -> AttestationDecision:
    """The level a call earns from what the platform verified (see the module docstring)."""
    return decide_attestation(
        customer_authenticated=standing.customer_authenticated, number_status=standing.number_status
    )
