"""The line worker's pure parts without SIP: call-leg life cycles and what a lead call reports at its end,
the headers of our INVITEs, and the slot rule (`dialer.sip.legs`, `dialer.sip.headers`,
`dialer.sip.admission`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.sip import protocol as p
from dialer.sip.admission import BRIDGE_TOKEN_HEADER, can_place_call
from dialer.sip.headers import (
    ANONYMOUS_FROM,
    internal_leg_headers,
    lead_from_uri,
    lead_headers,
    parse_headers,
    response_source,
)
from dialer.sip.legs import (
    AgentLeg,
    AgentLegState,
    HangupCause,
    InternalLeg,
    InternalLegState,
    LeadCall,
    LeadState,
    admission_reserve,
)
from dialer.sip.profiles import TrunkProfile, load_profile


def profile(tmp_path: Path, *, presentation: str = "from_and_pai", stir_shaken: bool = True) -> TrunkProfile:
    name = f"{presentation.replace('_', '-')}-{'signed' if stir_shaken else 'unsigned'}"
    (tmp_path / f"{name}.toml").write_text(
        f'[sip]\nproxy = "192.0.2.10:5060"\n[caller_id]\npresentation = "{presentation}"\n'
        f"[stir_shaken]\nenabled = {str(stir_shaken).lower()}\n"
    )
    return load_profile(name, tmp_path)


def lead(tmp_path: Path, **command: object) -> LeadCall:
    cmd = p.DialLead(
        **{"attempt_id": "a-1", "to": "+13035550100", "from_number": "+12025550100", "trunk": "t", **command}  # type: ignore[arg-type]
    )
    return LeadCall(command=cmd, profile=profile(tmp_path), ring_timeout_s=15.0)


def test_a_lead_call_moves_forward_only(tmp_path: Path) -> None:
    call = lead(tmp_path)
    assert call.state is LeadState.QUEUED and not call.move(LeadState.RINGING)  # no ring before the INVITE
    assert call.move(LeadState.INVITING) and call.move(LeadState.RINGING) and call.rang
    assert call.move(LeadState.ANSWERED) and call.answered
    assert not call.move(LeadState.RINGING)  # a late 180 after the answer changes nothing
    assert not call.move(LeadState.ANSWERED)  # nor a retransmitted 200
    assert call.move(LeadState.ENDED) and call.ended and not call.move(LeadState.INVITING)


def test_an_answered_call_reports_answered_whatever_status_ends_it(tmp_path: Path) -> None:
    call = lead(tmp_path)
    call.move(LeadState.INVITING)
    call.move(LeadState.ANSWERED)  # answered without a ring
    call.hang_up_because(HangupCause.ENGINE)
    assert call.end_report(487, "Request Terminated")[:2] == (200, p.SipOutcome.ANSWERED)


@pytest.mark.parametrize(
    ("rang", "cause", "status", "outcome", "reason_part"),
    [
        (True, HangupCause.RING_TIMEOUT, 487, p.SipOutcome.NO_ANSWER, "no answer within 15 s"),
        (False, HangupCause.RING_TIMEOUT, 487, p.SipOutcome.TRUNK_FAILURE, "no 180/183 within 15 s"),
        (True, HangupCause.ENGINE, 487, p.SipOutcome.CANCELLED, "Request Terminated"),
        (True, None, 486, p.SipOutcome.BUSY, "Busy Here"),
        (False, None, 503, p.SipOutcome.TRUNK_FAILURE, "Busy Here"),
    ],
)
def test_what_an_unanswered_call_reports(
    tmp_path: Path,
    rang: bool,
    cause: HangupCause | None,
    status: int,
    outcome: p.SipOutcome,
    reason_part: str,
) -> None:
    call = lead(tmp_path)
    call.move(LeadState.INVITING)
    if rang:
        call.move(LeadState.RINGING)
    if cause is not None:
        call.hang_up_because(cause)
    reason = "Request Terminated" if status == 487 else "Busy Here"
    got_status, got_outcome, got_reason = call.end_report(status, reason)
    assert (got_status, got_outcome) == (status, outcome) and reason_part in got_reason


def test_the_first_hangup_cause_wins(tmp_path: Path) -> None:
    call = lead(tmp_path)
    call.move(LeadState.INVITING)
    call.hang_up_because(HangupCause.RING_TIMEOUT)
    call.hang_up_because(HangupCause.ENGINE)  # the engine's Hangup arrived while our CANCEL was out
    assert call.hangup_cause is HangupCause.RING_TIMEOUT
    assert call.end_report(487, "")[1] is p.SipOutcome.TRUNK_FAILURE  # it never rang


def test_an_answer_from_another_address_is_a_trunk_failure_naming_both(tmp_path: Path) -> None:
    call = lead(tmp_path)
    call.move(LeadState.INVITING)
    call.foreign_source = "127.0.0.2:5060"
    _, outcome, reason = call.end_report(200, "")
    assert outcome is p.SipOutcome.TRUNK_FAILURE and "127.0.0.2" in reason and "192.0.2.10" in reason


def test_slots_are_kept_for_bridges_and_the_socket_reuse_rule_holds(tmp_path: Path) -> None:
    answered, bridged, ringing = lead(tmp_path), lead(tmp_path), lead(tmp_path)
    for call in (answered, bridged, ringing):
        call.move(LeadState.INVITING)
    answered.move(LeadState.ANSWERED)
    bridged.move(LeadState.ANSWERED)
    bridged.agent_id = "agent-1"
    idle = AgentLeg(agent_id="agent-2", sip_uri="sip:a@h", state=AgentLegState.UP)
    busy = AgentLeg(agent_id="agent-3", sip_uri="sip:b@h", state=AgentLegState.UP, partner=object())
    calling = AgentLeg(agent_id="agent-4", sip_uri="sip:c@h", state=AgentLegState.CALLING)
    assert admission_reserve([answered, bridged, ringing], [idle, busy, calling]) == 2
    assert can_place_call(live_calls=27, recently_ended=0, reserve=2, max_calls=30)
    assert not can_place_call(live_calls=28, recently_ended=0, reserve=2, max_calls=30)
    assert not can_place_call(live_calls=20, recently_ended=12, reserve=0, max_calls=30)  # 32 sockets pairs
    assert can_place_call(live_calls=20, recently_ended=11, reserve=0, max_calls=30)
    assert not can_place_call(live_calls=30, recently_ended=0, reserve=0, max_calls=64)  # never above 30


def test_an_internal_leg_counts_as_bridged_until_it_is_down() -> None:
    leg = InternalLeg(attempt_id="a", agent_id="b", outgoing=True)
    assert not leg.bridged
    leg.state = InternalLegState.BRIDGED
    assert leg.bridged
    leg.state = InternalLegState.UNBRIDGING
    assert leg.bridged


def test_lead_headers_follow_the_profile(tmp_path: Path) -> None:
    cmd = p.DialLead(
        attempt_id="a",
        to="+13035550100",
        from_number="+12025550100",
        trunk="t",
        identity="hdr.payload.sig;info=<https://x>;alg=ES256;ppt=shaken",
        extra_headers={"X-Sim-Behaviour": "human"},
    )
    signed = profile(tmp_path)
    assert lead_headers(cmd, signed) == [
        ("P-Asserted-Identity", "<sip:+12025550100@192.0.2.10;user=phone>"),
        ("Identity", cmd.identity),
        ("X-Sim-Behaviour", "human"),
    ]
    assert lead_from_uri(cmd, signed) == "sip:+12025550100@192.0.2.10"
    unsigned = profile(tmp_path, stir_shaken=False)
    assert [name for name, _ in lead_headers(cmd, unsigned)] == ["P-Asserted-Identity", "X-Sim-Behaviour"]
    restricted = profile(tmp_path, presentation="restricted")
    assert lead_from_uri(cmd, restricted) == ANONYMOUS_FROM
    assert ("Privacy", "id") in lead_headers(cmd, restricted)
    from_only = profile(tmp_path, presentation="from_only")
    assert "P-Asserted-Identity" not in dict(lead_headers(cmd, from_only))
    explicit = p.DialLead(
        attempt_id="a", to="x", from_number="+1", trunk="t", p_asserted_identity="<tel:+12025550100>"
    )
    assert dict(lead_headers(explicit, unsigned))["P-Asserted-Identity"] == "<tel:+12025550100>"


def test_internal_leg_headers_carry_the_bridge_token_and_parse_back() -> None:
    headers = internal_leg_headers(agent_id="agent-1", attempt_id="att-1", token="tok")
    message = "INVITE sip:w@h SIP/2.0\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\nbody: no"
    parsed = parse_headers(message)
    assert parsed["x-clearline-agent"] == "agent-1" and parsed[BRIDGE_TOKEN_HEADER.lower()] == "tok"
    assert "body" not in parsed
    assert parse_headers("SIP/2.0 200 OK\r\nVia: a\r\nvia: b\r\n\r\n")["via"] == "a"  # first one wins
    assert response_source("SIP/2.0 200 OK\r\n", "127.0.0.1:5060") == "127.0.0.1:5060"
    assert response_source("BYE sip:x SIP/2.0\r\n", "127.0.0.1:5060") == ""
