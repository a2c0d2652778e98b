"""The attestation level is earned: A needs an authenticated customer *and* a verified number."""

from __future__ import annotations

from attestation.policy import AttestationDecision, decide_attestation


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
