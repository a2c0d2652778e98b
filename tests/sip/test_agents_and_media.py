"""Nailed agent legs, bridges to agents in the same and in another worker (audio must really cross),
safe-harbor playback with the RFC 2833 opt-out key, and the carrier's STIR/SHAKEN verification.

One pool of two workers, one carrier simulator and one agent-phones simulator serve the whole module;
each test uses its own attempt ids, agents and called numbers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.runtime import Runtime
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


@dataclass
class Bench:
    pool: LineWorkerPool
    lead_worker: str
    agent_worker: str
    trunk: str
    signed_trunk: str
    carrier_stats: Path
    phones_port: int
    phones_stats: Path

    def dial(self, attempt_id: str, to: str, behaviour: str = "human", **headers: str) -> None:
        extra = {
            "X-Sim-Behaviour": behaviour,
            **{f"X-Sim-{k.replace('_', '-').title()}": v for k, v in headers.items()},
        }
        self.pool.send(
            self.lead_worker,
            p.DialLead(
                attempt_id=attempt_id, to=to, from_number=CALLER, trunk=self.trunk, extra_headers=extra
            ),
        )

    def nail(self, placement: dict[str, str]) -> None:
        for agent_id, worker in placement.items():
            uri = f"sip:{agent_id}@127.0.0.1:{self.phones_port}"
            self.pool.send(worker, p.CallAgent(agent_id=agent_id, sip_uri=uri))
        collect(
            self.pool,
            lambda evs: {e.agent_id for e in evs if isinstance(e, p.AgentLegUp)} >= set(placement),
            10,
        )

    def carrier_call(self, number: str, check: str = "ended") -> dict[str, Any]:
        stats = wait_for_stats(
            self.carrier_stats,
            lambda s: any(c["number"] == number and check in c for c in s["calls"].values()),
        )
        return next(c for c in stats["calls"].values() if c["number"] == number)


@pytest.fixture(scope="module")
def bench(
    runtime: Runtime, tmp_path_factory: pytest.TempPathFactory, test_signer: TestSigner
) -> Iterator[Bench]:
    directory = tmp_path_factory.mktemp("agents")
    simulators = Simulators(directory=directory, processes=[])
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=directory)
    try:
        behaviour = CarrierBehaviour(
            ring_s=(0.1, 0.2), talk_s=(2.5, 2.5), opt_out_after_s=1.0, reject_bad_identity=True
        )
        carrier_port, carrier_stats = simulators.carrier(behaviour, verify_with=test_signer)
        phones_port, phones_stats = simulators.phones()
        lead_worker = pool.start_worker(profiles_dir=directory)
        agent_worker = pool.start_worker(profiles_dir=directory)
        pool.wait_ready([lead_worker, agent_worker])
        yield Bench(
            pool=pool,
            lead_worker=lead_worker,
            agent_worker=agent_worker,
            trunk=write_profile(directory, "sim", carrier_port),
            signed_trunk=write_profile(directory, "signed", carrier_port, stir_shaken=True),
            carrier_stats=carrier_stats,
            phones_port=phones_port,
            phones_stats=phones_stats,
        )
    finally:
        pool.close()
        simulators.stop()


def test_agent_leg_is_nailed_up_until_released(bench: Bench) -> None:
    pool = bench.pool
    bench.nail({"agent-a": bench.lead_worker})
    assert "agent-a" in pool.workers()[bench.lead_worker].agent_ids
    wait_for_stats(bench.phones_stats, lambda s: s["legs_up"].get("agent-a") is True)

    pool.send(bench.lead_worker, p.ReleaseAgent(agent_id="agent-a"))
    events = collect(pool, lambda evs: any(isinstance(e, p.AgentLegDown) for e in evs), 5)
    down = first(events, p.AgentLegDown, agent_id="agent-a")
    assert isinstance(down, p.AgentLegDown) and down.reason == "released"
    wait_for_stats(
        bench.phones_stats, lambda s: s["legs_up"]["agent-a"] is False and s["legs_answered"]["agent-a"] == 1
    )
    assert not any("agent-a" in info.agent_ids for info in pool.workers().values())


def test_answered_calls_reach_agents_in_the_same_and_in_another_worker_with_audio_both_ways(
    bench: Bench,
) -> None:
    pool = bench.pool
    bench.nail({"local-agent": bench.lead_worker, "remote-agent": bench.agent_worker})
    bench.dial("call-local", "+13035550001")
    bench.dial("call-remote", "+13035550002")
    agent_for = {"call-local": "local-agent", "call-remote": "remote-agent"}

    def bridge_on_answer(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.bridge(event.attempt_id, agent_for[event.attempt_id])

    def done(evs: list[p.Event]) -> bool:  # a remote agent is free only after its worker took the BYE
        return ended(evs, set(agent_for)) and set(agent_for) <= {
            e.attempt_id for e in evs if isinstance(e, p.AgentFree)
        }

    events = collect(pool, done, 15, bridge_on_answer)
    for attempt_id, agent_id in agent_for.items():
        answered = first(events, p.Answered, attempt_id=attempt_id)
        bridged = first(events, p.Bridged, attempt_id=attempt_id, agent_id=agent_id)
        assert bridged.at - answered.at < 2.0  # the law's bound; typical is ~10 ms (bench/engine.py)
        free = first(events, p.AgentFree, attempt_id=attempt_id)
        assert isinstance(free, p.AgentFree) and free.agent_id == agent_id
    assert not [e for e in events if isinstance(e, p.BridgeFailed)]

    # The carrier's 1 kHz tone reached both agents' phones, and their 600 Hz tone reached the callees.
    phones = wait_for_stats(
        bench.phones_stats,
        lambda s: min(s["loud_packets_heard"].get(a, 0) for a in ("local-agent", "remote-agent")) > 25,
    )
    assert phones["legs_up"]["local-agent"] and phones["legs_up"]["remote-agent"]  # nailed: still up
    for number in ("+13035550001", "+13035550002"):
        assert bench.carrier_call(number)["loud_packets_heard"] > 25  # at least 0.5 s of the agent's tone
    assert not [e for e in events if isinstance(e, p.AgentLegDown)]


def test_safe_harbor_message_plays_and_the_opt_out_key_is_reported(bench: Bench) -> None:
    pool = bench.pool
    bench.dial("abandoned", "+13035550011", talk_s="30", opt_out="1")

    def no_agent_free(event: p.Event) -> None:
        if isinstance(event, p.Answered) and event.attempt_id == "abandoned":
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
    call = bench.carrier_call("+13035550011")
    assert call["opt_out_sent"] and call["loud_packets_heard"] > 20


def test_safe_harbor_without_a_key_press_hangs_up_after_the_listen_window(bench: Bench) -> None:
    pool = bench.pool
    bench.dial("quiet", "+13035550012", talk_s="30", opt_out="0")

    def no_agent_free(event: p.Event) -> None:
        if isinstance(event, p.Answered) and event.attempt_id == "quiet":
            pool.play_safe_harbor(
                p.PlaySafeHarbor(
                    attempt_id="quiet", wav_path=str(DEFAULT_SAFE_HARBOR_WAV), listen_after_s=0.5
                )
            )

    events = collect(pool, lambda evs: ended(evs, {"quiet"}), 10, no_agent_free)
    played = first(events, p.SafeHarborPlayed, attempt_id="quiet")
    answered = first(events, p.Answered, attempt_id="quiet")
    end = first(events, p.Ended, attempt_id="quiet")
    assert 2.5 <= played.at - answered.at < 5.0  # the WAV is 2.7 s long (plus command latency under load)
    assert 0.4 <= end.at - played.at < 3.0
    assert not [e for e in events if isinstance(e, p.OptOut)]


def test_carrier_verifies_signed_calls_and_rejects_a_forged_identity(
    bench: Bench, test_signer: TestSigner
) -> None:
    pool = bench.pool
    good = test_signer.identity(CALLER, "+13035550021")
    forged = test_signer.identity(CALLER, "+19995550000")  # signed for another destination
    for attempt_id, to, identity in (
        ("signed", "+13035550021", good),
        ("forged", "+13035550022", forged),
        ("unsigned", "+13035550023", ""),
    ):
        pool.send(
            bench.lead_worker,
            p.DialLead(
                attempt_id=attempt_id,
                to=to,
                from_number=CALLER,
                trunk=bench.signed_trunk,
                identity=identity,
                extra_headers={"X-Sim-Behaviour": "busy"},
            ),
        )

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
    signed, forged_call = bench.carrier_call("+13035550021"), bench.carrier_call("+13035550022")
    assert (signed["identity"], forged_call["identity"]) == ("verified", "failed")
    assert forged_call["final_status"] == 438
    stats = wait_for_stats(bench.carrier_stats, lambda s: True)
    assert "+13035550023" not in stats["calls_by_number"]  # refused by the worker, never dialed
    # A signed INVITE stays within 1,500 bytes (session timers, X-nat and other codecs trimmed); it goes
    # over UDP because the trunk account is bound to the UDP transport.
    assert signed["invite_bytes"] <= 1500
