"""The attestation level is earned: A needs an authenticated customer *and* a verified number."""

from __future__ import annotations

from attestation.policy import AttestationDecision, CallerStanding, attestation_for, decide_attestation


def test_verified_number_of_an_authenticated_customer_gets_a() -> None:
    assert decide_attestation(customer_authenticated=True, number_status="verified") == AttestationDecision(
        "A", "verified_number"
    )


def test_number_outside_the_inventory_gets_b() -> None:
    assert decide_attestation(customer_authenticated=True, number_status=None) == AttestationDecision(
        "B", "number_not_in_inventory"
    )


def test_pending_or_rejected_number_gets_b() -> None:
    for status in ("pending", "rejected"):
        assert decide_attestation(customer_authenticated=True, number_status=status) == AttestationDecision(
            "B", "number_not_verified"
        )


def test_unauthenticated_customer_gets_c_even_with_a_verified_number() -> None:
    assert decide_attestation(customer_authenticated=False, number_status="verified") == AttestationDecision(
        "C", "customer_not_authenticated"
    )


def test_an_organization_the_platform_verified_nothing_of_is_not_an_authenticated_customer() -> None:
    # The level follows what the platform verified: no verified number at all means no vetted customer.
    assert attestation_for(CallerStanding(number_status=None, verified_numbers=0)) == AttestationDecision(
        "C", "customer_not_authenticated"
    )
    assert attestation_for(CallerStanding(number_status="pending", verified_numbers=0)).level == "C"
    assert attestation_for(CallerStanding(number_status="rejected", verified_numbers=0)).level == "C"


def test_levels_from_the_callers_standing() -> None:
    assert attestation_for(CallerStanding("verified", 1)) == AttestationDecision("A", "verified_number")
    assert attestation_for(CallerStanding(None, 3)) == AttestationDecision("B", "number_not_in_inventory")
    assert attestation_for(CallerStanding("pending", 1)) == AttestationDecision("B", "number_not_verified")
    assert attestation_for(CallerStanding("rejected", 2)) == AttestationDecision("B", "number_not_verified")
