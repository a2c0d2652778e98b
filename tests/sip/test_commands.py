"""Commands the engine gets wrong or changes its mind about: hang up while ringing, unknown trunk,
duplicate attempt, bridge to an agent that has no leg."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.runtime import Runtime
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, Simulators, collect, ended, first, wait_for_stats, write_profile

pytestmark = pytest.mark.sip


def lead(attempt_id: str, trunk: str, behaviour: str, to: str = "+14155550001") -> p.DialLead:
    return p.DialLead(
        attempt_id=attempt_id,
        to=to,
        from_number=CALLER,
        trunk=trunk,
        extra_headers={"X-Sim-Behaviour": behaviour},
    )


@dataclass
class Shared:
    """One worker and one carrier for the whole module (each test uses its own attempt ids)."""

    pool: LineWorkerPool
    worker: str
    trunk: str
    alaw_trunk: str
    carrier_stats: Path


@pytest.fixture(scope="module")
def shared(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    directory = tmp_path_factory.mktemp("commands")
    simulators = Simulators(directory=directory, processes=[])
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=directory)
    try:
        carrier_port, carrier_stats = simulators.carrier(
            CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(1.5, 1.5))
        )
        trunk = write_profile(directory, "sim", carrier_port)
        alaw = write_profile(
            directory, "alaw", carrier_port, extra='[media]\ncodecs = ["PCMA", "telephone-event"]\n'
        )
        worker = pool.start_worker(profiles_dir=directory)
        pool.wait_ready([worker])
        yield Shared(pool=pool, worker=worker, trunk=trunk, alaw_trunk=alaw, carrier_stats=carrier_stats)
    finally:
        pool.close()
        simulators.stop()


def test_engine_hangup_while_ringing_ends_as_cancelled_not_no_answer(
    shared: Shared,
) -> None:
    pool, worker, trunk = shared.pool, shared.worker, shared.trunk
    pool.send(worker, lead("changed-mind", trunk, "no_answer"))

    def hang_up_on_ring(event: p.Event) -> None:
        if isinstance(event, p.Ringing):
            pool.hangup(event.attempt_id)

    events = collect(pool, lambda evs: ended(evs, {"changed-mind"}), 10, hang_up_on_ring)
    end = first(events, p.Ended, attempt_id="changed-mind")
    assert isinstance(end, p.Ended) and end.outcome == p.SipOutcome.CANCELLED and end.sip_status == 487


def test_unknown_trunk_and_duplicate_attempt_are_rejected_with_the_reason(
    shared: Shared,
) -> None:
    pool, worker, trunk = shared.pool, shared.worker, shared.trunk
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


def test_bridge_to_an_agent_without_a_leg_fails_and_the_call_carries_on(shared: Shared) -> None:
    pool, worker = shared.pool, shared.worker
    pool.send(worker, lead("lonely", shared.trunk, "human", to="+14155550071"))

    def bridge_to_ghost(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.send(worker, p.Bridge(attempt_id="lonely", agent_id="ghost"))

    events = collect(pool, lambda evs: ended(evs, {"lonely"}), 10, bridge_to_ghost)
    failed = first(events, p.BridgeFailed, attempt_id="lonely")
    assert isinstance(failed, p.BridgeFailed) and failed.agent_id == "ghost"
    end = first(events, p.Ended, attempt_id="lonely")
    assert isinstance(end, p.Ended) and end.answered and end.outcome == p.SipOutcome.ANSWERED
    # The callee hung up after talking: the failed bridge did not end the call.
    stats = wait_for_stats(
        shared.carrier_stats,
        lambda s: any(c["number"] == "+14155550071" and "ended" in c for c in s["calls"].values()),
    )
    (call,) = [c for c in stats["calls"].values() if c["number"] == "+14155550071"]
    assert call["ended"] == "bye_sent"


def test_calls_offer_only_the_codecs_of_their_trunk_profile(shared: Shared) -> None:
    pool, worker = shared.pool, shared.worker
    pool.send(worker, lead("alaw-only", shared.alaw_trunk, "busy", to="+14155550081"))
    pool.send(worker, lead("default", shared.trunk, "busy", to="+14155550082"))
    collect(pool, lambda evs: ended(evs, {"alaw-only", "default"}), 10)
    stats = wait_for_stats(
        shared.carrier_stats, lambda s: {"+14155550081", "+14155550082"} <= set(s["calls_by_number"])
    )
    offers = {call["number"]: call["offered_payload_types"][:-1] for call in stats["calls"].values()}
    # PCMU is payload type 0, PCMA 8 (the last one offered is telephone-event)
    assert (offers["+14155550081"], offers["+14155550082"]) == ([8], [0, 8])
