"""Admission of an inbound INVITE as an internal bridge leg, as a pure decision (`dialer.sip.admission`)."""

from __future__ import annotations

import pytest

from dialer.sip.admission import ExpectedLeg, admit_internal_leg, response_source_ok, sip_address, uri_host

EXPECTED = ExpectedLeg(attempt_id="att-1", agent_id="agent-1", source="127.0.0.1:5071", expires_at=100.0)


def _admit(**overrides: object) -> tuple[int, str]:
    args: dict[str, object] = {
        "token": "tok",
        "agent_id": "agent-1",
        "attempt_id": "att-1",
        "source": "127.0.0.1:5071",
        "expected": EXPECTED,
        "now": 99.0,
    }
    args.update(overrides)
    admission = admit_internal_leg(**args)  # type: ignore[arg-type]
    return admission.status, admission.reason


def test_the_expected_leg_from_the_lead_workers_address_is_admitted() -> None:
    assert _admit() == (200, "")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"token": "", "expected": None}, "Only internal bridge legs are accepted"),
        ({"expected": None}, "Unknown or already used bridge token"),
        ({"now": 100.5}, "Bridge token expired"),
        ({"agent_id": "agent-2"}, "Bridge token issued for another agent or attempt"),
        ({"attempt_id": "att-2"}, "Bridge token issued for another agent or attempt"),
        ({"source": "127.0.0.1:5072"}, "Bridge leg from an unexpected address"),
        ({"source": "10.0.0.9:5071"}, "Bridge leg from an unexpected address"),
    ],
)
def test_anything_else_is_refused_with_403_naming_the_rule(overrides: dict[str, object], reason: str) -> None:
    assert _admit(**overrides) == (403, reason)


def test_sip_addresses_compare_as_host_and_port() -> None:
    assert sip_address("sip:w-1@127.0.0.1:5071") == "127.0.0.1:5071"
    assert sip_address("sip:w-1@Host.Example:5071;transport=udp") == "host.example:5071"
    assert sip_address("[::1]:5071") == "[::1]:5071"


def test_a_response_counts_only_from_the_configured_ip_address() -> None:
    assert response_source_ok("127.0.0.1:5060", uri_host("127.0.0.1:5080"))  # ports may differ
    assert not response_source_ok("127.0.0.2:5060", uri_host("127.0.0.1:5060"))
    assert not response_source_ok("203.0.113.9:5060", uri_host("sip:1001@10.0.0.5:5060"))
    assert response_source_ok("[::1]:5060", uri_host("sip:1001@[::1]:5062"))
    # A host name may resolve to several addresses pjsip alone knows: not re-checked.
    assert response_source_ok("203.0.113.9:5060", uri_host("sip.carrier.example:5060"))
