"""Nailed agent legs, bridges to agents in the same and in another worker (audio must really cross),
safe-harbor playback with the RFC 2833 opt-out key, and the carrier's STIR/SHAKEN verification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import (
    CALLER,
    Simulators,
    TestSigner,
    collect,
    ended,
    first,
    wait_for_stats,
    write_profile,
)

pytestmark = pytest.mark.sip

TALKING_HUMAN = CarrierBehaviour(ring_s=(0.1, 0.2), talk_s=(2.5, 2.5), machine_talk_s=(20, 20))


def dial(
    attempt_id: str, trunk: str, behaviour: str, identity: str = "", to: str = "+13035550001"
) -> p.DialLead:
    return p.DialLead(
        attempt_id=attempt_id,
        to=to,
        from_number=CALLER,
        trunk=trunk,
        identity=identity,
        extra_headers={"X-Sim-Behaviour": behaviour},
    )


def nail_agents(pool: LineWorkerPool, placement: dict[str, str], phones_port: int) -> None:
    for agent_id, worker in placement.items():
        pool.send(worker, p.CallAgent(agent_id=agent_id, sip_uri=f"sip:{agent_id}@127.0.0.1:{phones_port}"))
    collect(pool, lambda evs: {e.agent_id for e in evs if isinstance(e, p.AgentLegUp)} >= set(placement), 10)


def test_agent_leg_is_nailed_up_until_released(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool]
) -> None:
    pool = make_pool()
    phones_port, phones_stats = simulators.phones()
    worker = pool.start_worker()
    pool.wait_ready([worker])
    nail_agents(pool, {"agent-a": worker}, phones_port)
    assert pool.worker_of_agent("agent-a") == worker
    wait_for_stats(phones_stats, lambda s: s["legs_up"].get("agent-a") is True)

    pool.send(worker, p.ReleaseAgent(agent_id="agent-a"))
    events = collect(pool, lambda evs: any(isinstance(e, p.AgentLegDown) for e in evs), 5)
    down = first(events, p.AgentLegDown, agent_id="agent-a")
    assert isinstance(down, p.AgentLegDown) and down.reason == "released"
    wait_for_stats(
        phones_stats, lambda s: s["legs_up"]["agent-a"] is False and s["legs_answered"]["agent-a"] == 1
    )
    assert pool.worker_of_agent("agent-a") is None


def test_answered_calls_reach_agents_in_the_same_and_in_another_worker_with_audio_both_ways(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, carrier_stats = simulators.carrier(TALKING_HUMAN)
    phones_port, phones_stats = simulators.phones()
    trunk = write_profile(tmp_path, "sim", carrier_port)
    lead_worker, agent_worker = (
        pool.start_worker(profiles_dir=tmp_path),
        pool.start_worker(profiles_dir=tmp_path),
    )
    pool.wait_ready([lead_worker, agent_worker])
    nail_agents(pool, {"local-agent": lead_worker, "remote-agent": agent_worker}, phones_port)

    pool.send(lead_worker, dial("call-local", trunk, "human", to="+13035550001"))
    pool.send(lead_worker, dial("call-remote", trunk, "human", to="+13035550002"))
    agent_for = {"call-local": "local-agent", "call-remote": "remote-agent"}

    def bridge_on_answer(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.bridge(event.attempt_id, agent_for[event.attempt_id])

    events = collect(pool, lambda evs: ended(evs, set(agent_for)), 15, bridge_on_answer)
    for attempt_id, agent_id in agent_for.items():
        answered = first(events, p.Answered, attempt_id=attempt_id)
        bridged = first(events, p.Bridged, attempt_id=attempt_id, agent_id=agent_id)
        assert bridged.at - answered.at < 0.5
        free = first(events, p.AgentFree, attempt_id=attempt_id)
        assert isinstance(free, p.AgentFree) and free.agent_id == agent_id
    assert not [e for e in events if isinstance(e, p.BridgeFailed)]

    # The carrier's 1 kHz tone reached both agents' phones, and their 600 Hz tone reached the callee.
    phones = wait_for_stats(phones_stats, lambda s: min(s["loud_packets_heard"].values(), default=0) > 50)
    assert set(phones["loud_packets_heard"]) == {"local-agent", "remote-agent"}
    carrier = wait_for_stats(carrier_stats, lambda s: s["outcomes"].get("human") == 2)
    assert all(call["loud_packets_heard"] > 50 for call in carrier["calls"].values())
    # The agents' legs survive the calls (nailed), ready for the next one.
    assert {e.agent_id for e in events if isinstance(e, p.AgentLegDown)} == set()


def test_safe_harbor_message_plays_and_the_opt_out_key_is_reported(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    behaviour = CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(30, 30), opt_out=1.0, opt_out_after_s=1.0)
    carrier_port, carrier_stats = simulators.carrier(behaviour)
    trunk = write_profile(tmp_path, "sim", carrier_port)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    pool.send(worker, dial("abandoned", trunk, "human"))

    def no_agent_free(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.play_safe_harbor(
                p.PlaySafeHarbor(
                    attempt_id="abandoned", wav_path=str(DEFAULT_SAFE_HARBOR_WAV), opt_out_key="9"
                )
            )

    events = collect(pool, lambda evs: ended(evs, {"abandoned"}), 10, no_agent_free)
    opt_out = first(events, p.OptOut, attempt_id="abandoned")
    assert isinstance(opt_out, p.OptOut) and opt_out.digit == "9"
    end = first(events, p.Ended, attempt_id="abandoned")
    assert end.at >= opt_out.at and isinstance(end, p.Ended) and end.answered
    # The callee heard the message (non-silent audio) before pressing the key.
    carrier = wait_for_stats(carrier_stats, lambda s: s["outcomes"].get("human") == 1)
    (call,) = carrier["calls"].values()
    assert call["opt_out_sent"] and call["loud_packets_heard"] > 20


def test_safe_harbor_without_a_key_press_hangs_up_after_the_listen_window(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, _ = simulators.carrier(CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(30, 30)))
    trunk = write_profile(tmp_path, "sim", carrier_port)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    pool.send(worker, dial("quiet", trunk, "human"))

    def no_agent_free(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.play_safe_harbor(
                p.PlaySafeHarbor(
                    attempt_id="quiet", wav_path=str(DEFAULT_SAFE_HARBOR_WAV), listen_after_s=0.5
                )
            )

    events = collect(pool, lambda evs: ended(evs, {"quiet"}), 10, no_agent_free)
    played = first(events, p.SafeHarborPlayed, attempt_id="quiet")
    answered = first(events, p.Answered, attempt_id="quiet")
    end = first(events, p.Ended, attempt_id="quiet")
    assert 2.5 <= played.at - answered.at < 4.0  # the WAV is 2.7 s long
    assert 0.4 <= end.at - played.at < 1.5
    assert not [e for e in events if isinstance(e, p.OptOut)]


def test_carrier_verifies_signed_calls_and_rejects_a_forged_identity(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path, test_signer: TestSigner
) -> None:
    pool = make_pool()
    behaviour = CarrierBehaviour(ring_s=(0.1, 0.1), reject_bad_identity=True)
    carrier_port, carrier_stats = simulators.carrier(behaviour, verify_with=test_signer)
    trunk = write_profile(tmp_path, "signed", carrier_port, stir_shaken=True)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    good = test_signer.identity(CALLER, "+13035550001")
    forged = test_signer.identity(CALLER, "+19995550000")  # signed for another destination
    pool.send(worker, dial("signed", trunk, "busy", identity=good, to="+13035550001"))
    pool.send(worker, dial("forged", trunk, "busy", identity=forged, to="+13035550002"))
    unsigned = dial("unsigned", trunk, "busy")
    pool.send(worker, unsigned)

    events = collect(
        pool,
        lambda evs: ended(evs, {"signed", "forged"}) and any(isinstance(e, p.CommandRejected) for e in evs),
        10,
    )
    assert first(events, p.Ended, attempt_id="signed").outcome == p.SipOutcome.BUSY
    rejected = first(events, p.Ended, attempt_id="forged")
    assert isinstance(rejected, p.Ended) and rejected.outcome == p.SipOutcome.IDENTITY_REJECTED
    refusal = first(events, p.CommandRejected, key="unsigned")
    assert isinstance(refusal, p.CommandRejected) and "Identity" in refusal.reason
    stats = wait_for_stats(carrier_stats, lambda s: s["invites"] == 2)
    assert stats["identity"] == {"verified": 1, "failed": 1}
    assert stats["calls_by_number"] == {"+13035550001": 1, "+13035550002": 1}
    # A signed INVITE stays within 1,500 bytes (session timers, X-nat and other codecs trimmed); it goes
    # over UDP because the trunk account is bound to the UDP transport.
    assert all(call["invite_bytes"] <= 1500 for call in stats["calls"].values())
