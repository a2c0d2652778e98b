"""Commands the engine gets wrong or changes its mind about: hang up while ringing, unknown trunk,
duplicate attempt, bridge to an agent that has no leg."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, Simulators, collect, ended, first, wait_for_stats, write_profile

pytestmark = pytest.mark.sip


def lead(attempt_id: str, trunk: str, behaviour: str) -> p.DialLead:
    return p.DialLead(
        attempt_id=attempt_id,
        to="+14155550001",
        from_number=CALLER,
        trunk=trunk,
        extra_headers={"X-Sim-Behaviour": behaviour},
    )


@pytest.fixture
def worker_and_trunk(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> tuple[LineWorkerPool, str, str]:
    pool = make_pool()
    carrier_port, _ = simulators.carrier(CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(1.5, 1.5)))
    trunk = write_profile(tmp_path, "sim", carrier_port)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    return pool, worker, trunk


def test_engine_hangup_while_ringing_ends_as_cancelled_not_no_answer(
    worker_and_trunk: tuple[LineWorkerPool, str, str],
) -> None:
    pool, worker, trunk = worker_and_trunk
    pool.send(worker, lead("changed-mind", trunk, "no_answer"))

    def hang_up_on_ring(event: p.Event) -> None:
        if isinstance(event, p.Ringing):
            pool.hangup(event.attempt_id)

    events = collect(pool, lambda evs: ended(evs, {"changed-mind"}), 10, hang_up_on_ring)
    end = first(events, p.Ended, attempt_id="changed-mind")
    assert isinstance(end, p.Ended) and end.outcome == p.SipOutcome.CANCELLED and end.sip_status == 487


def test_unknown_trunk_and_duplicate_attempt_are_rejected_with_the_reason(
    worker_and_trunk: tuple[LineWorkerPool, str, str],
) -> None:
    pool, worker, trunk = worker_and_trunk
    pool.send(worker, lead("no-such-trunk", "atlantis", "busy"))
    pool.send(worker, lead("twice", trunk, "no_answer"))
    pool.send(worker, lead("twice", trunk, "no_answer"))
    events = collect(pool, lambda evs: sum(isinstance(e, p.CommandRejected) for e in evs) == 2, 10)
    trunk_refusal = first(events, p.CommandRejected, key="no-such-trunk")
    assert isinstance(trunk_refusal, p.CommandRejected) and "'atlantis' not found" in trunk_refusal.reason
    duplicate = first(events, p.CommandRejected, key="twice")
    assert isinstance(duplicate, p.CommandRejected) and "already in progress" in duplicate.reason
    pool.hangup("twice")
    collect(pool, lambda evs: ended(evs, {"twice"}), 10)


def test_bridge_to_an_agent_without_a_leg_fails_and_the_call_carries_on(
    worker_and_trunk: tuple[LineWorkerPool, str, str],
) -> None:
    pool, worker, trunk = worker_and_trunk
    pool.send(worker, lead("lonely", trunk, "human"))

    def bridge_to_ghost(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.send(worker, p.Bridge(attempt_id="lonely", agent_id="ghost"))

    events = collect(pool, lambda evs: ended(evs, {"lonely"}), 10, bridge_to_ghost)
    failed = first(events, p.BridgeFailed, attempt_id="lonely")
    assert isinstance(failed, p.BridgeFailed) and failed.agent_id == "ghost"
    end = first(events, p.Ended, attempt_id="lonely")
    assert isinstance(end, p.Ended) and end.answered and end.outcome == p.SipOutcome.ANSWERED
    assert end.at - failed.at > 1.0  # the callee hung up after talking, not the worker after the failure


def test_calls_offer_only_the_codecs_of_their_trunk_profile(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, carrier_stats = simulators.carrier(CarrierBehaviour())
    alaw = write_profile(
        tmp_path, "alaw", carrier_port, extra='[media]\ncodecs = ["PCMA", "telephone-event"]\n'
    )
    both = write_profile(tmp_path, "both", carrier_port)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    pool.send(worker, lead("alaw-only", alaw, "busy"))
    pool.send(worker, lead("default", both, "busy"))
    collect(pool, lambda evs: ended(evs, {"alaw-only", "default"}), 10)
    stats = wait_for_stats(carrier_stats, lambda s: s["invites"] == 2)
    offers = sorted(call["offered_payload_types"][:-1] for call in stats["calls"].values())
    assert offers == [[0, 8], [8]]  # PCMU 0, PCMA 8 (the last payload type is telephone-event)
