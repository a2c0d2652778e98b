"""Trunk profiles are validated with errors that name the field and the rule; SIP statuses map to
outcomes; protocol messages survive a JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.sip import protocol as p
from dialer.sip.profiles import ProfileError, load_profile, outcome_for_status, parse_profile

BASE = {"sip": {"proxy": "carrier.example:5060"}}


def profile_with(**sections: dict[str, object]) -> dict[str, object]:
    return {**BASE, **sections}


def test_shipped_profiles_load() -> None:
    sim = load_profile("loopback-sim")
    assert sim.proxy.startswith("127.0.0.1:") and sim.amd_header == "X-Sim-Answered-By"
    template = load_profile("generic-template")
    assert template.auth is not None and template.auth.password_env == "CLEARLINE_TRUNK_GENERIC_PASSWORD"
    assert template.ring_timeout_s >= 15


def test_ring_timeout_below_15_s_is_refused_naming_the_floor() -> None:
    with pytest.raises(ProfileError, match=r"limits.ring_timeout_s: 10 s is below the 15 s floor") as err:
        parse_profile("t", profile_with(limits={"ring_timeout_s": 10}), source="t.toml")
    assert err.value.field == "limits.ring_timeout_s"


def test_requested_ring_time_is_raised_to_the_floor() -> None:
    profile = parse_profile("t", profile_with(limits={"ring_timeout_s": 15}))
    assert profile.effective_ring_timeout(5) == 15
    assert profile.effective_ring_timeout(30) == 30


def test_secrets_in_a_profile_are_refused() -> None:
    with pytest.raises(ProfileError, match="secrets never go in a profile"):
        parse_profile("t", profile_with(auth={"username": "bob", "password": "hunter2"}))


def test_credentials_come_from_the_named_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = parse_profile("t", profile_with(auth={"username_env": "T_USER", "password_env": "T_PASS"}))
    assert profile.auth is not None
    with pytest.raises(ProfileError, match="T_USER is not set"):
        profile.auth.credentials()
    monkeypatch.setenv("T_USER", "bob")
    monkeypatch.setenv("T_PASS", "s3cret")
    assert profile.auth.credentials() == ("bob", "s3cret")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sip": {}}, "sip.proxy: required"),
        ({"sip": {"proxy": "sip:x"}}, "sip.proxy: required"),
        (
            profile_with(sip={"proxy": "x", "transport": "sctp"}),
            "sip.transport: must be one of udp, tcp, tls",
        ),
        (profile_with(media={"codecs": ["PCMU", "opus"]}), "'opus' not allowed"),
        (profile_with(media={"codecs": ["telephone-event"]}), "needs PCMU or PCMA"),
        (profile_with(limits={"max_cps": 0}), "limits.max_cps: must be a positive number"),
        (profile_with(outcomes={"486": "maybe"}), "outcomes.486: 'maybe' is not an outcome"),
        (profile_with(outcomes={"abc": "busy"}), "keys are final SIP status codes"),
        (profile_with(caller_id={"presentation": "shout"}), "caller_id.presentation"),
        ({**BASE, "colour": "blue"}, "colour: unknown setting"),
    ],
)
def test_invalid_profiles_name_field_and_rule(data: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile("t", data, source="t.toml")


def test_unknown_profile_name_and_path_tricks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile("nope", tmp_path)
    with pytest.raises(ProfileError, match="plain file name"):
        load_profile("../etc/passwd", tmp_path)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, p.SipOutcome.ANSWERED),
        (486, p.SipOutcome.BUSY),
        (600, p.SipOutcome.BUSY),
        (404, p.SipOutcome.INVALID),
        (484, p.SipOutcome.INVALID),
        (604, p.SipOutcome.INVALID),
        (480, p.SipOutcome.NO_ANSWER),
        (408, p.SipOutcome.NO_ANSWER),
        (503, p.SipOutcome.TRUNK_FAILURE),
        (500, p.SipOutcome.TRUNK_FAILURE),
        (0, p.SipOutcome.TRUNK_FAILURE),
        (428, p.SipOutcome.IDENTITY_REJECTED),
        (436, p.SipOutcome.IDENTITY_REJECTED),
        (437, p.SipOutcome.IDENTITY_REJECTED),
        (438, p.SipOutcome.IDENTITY_REJECTED),
    ],
)
def test_final_status_maps_to_outcome(status: int, outcome: p.SipOutcome) -> None:
    assert outcome_for_status(status, ring_timeout_expired=False, cancelled=False) == outcome


def test_487_is_no_answer_after_our_ring_timeout_and_cancelled_after_the_engines_hangup() -> None:
    assert outcome_for_status(487, ring_timeout_expired=True, cancelled=False) == p.SipOutcome.NO_ANSWER
    assert outcome_for_status(487, ring_timeout_expired=False, cancelled=True) == p.SipOutcome.CANCELLED


def test_a_trunk_that_never_rang_is_a_trunk_failure_not_a_no_answer() -> None:
    assert (
        outcome_for_status(487, ring_timeout_expired=True, cancelled=False, rang=False)
        == p.SipOutcome.TRUNK_FAILURE
    )
    assert (
        outcome_for_status(408, ring_timeout_expired=False, cancelled=False, rang=False)
        == p.SipOutcome.TRUNK_FAILURE
    )
    assert (
        outcome_for_status(480, ring_timeout_expired=False, cancelled=False, rang=False)
        == p.SipOutcome.NO_ANSWER
    )
    assert (
        outcome_for_status(408, ring_timeout_expired=False, cancelled=False, rang=True)
        == p.SipOutcome.NO_ANSWER
    )


def test_profile_overrides_win_over_the_defaults() -> None:
    profile = parse_profile("t", profile_with(outcomes={"480": "invalid", "503": "busy"}))
    assert (
        profile.outcome_for_status(480, ring_timeout_expired=False, cancelled=False) == p.SipOutcome.INVALID
    )
    assert profile.outcome_for_status(503, ring_timeout_expired=False, cancelled=False) == p.SipOutcome.BUSY
    assert profile.outcome_for_status(486, ring_timeout_expired=False, cancelled=False) == p.SipOutcome.BUSY


def test_messages_round_trip_through_json() -> None:
    command = p.DialLead(
        attempt_id="a",
        to="+13035550001",
        from_number="+12025550100",
        trunk="t",
        identity="x.y.z;info=<https://c/x.pem>;alg=ES256;ppt=shaken",
        extra_headers={"X": "1"},
    )
    assert p.decode_command(p.encode(command)) == command
    event = p.Ended(
        worker_id="w", at=1.5, attempt_id="a", sip_status=486, outcome=p.SipOutcome.BUSY, reason="Busy"
    )
    assert p.decode_event(p.encode(event)) == event
    assert b'"type":"Ended"' in p.encode(event)
