"""Answering-machine detection on a live call's audio (DialLead.amd_settings): the carrier simulator's
callee plays a person's or a machine's greeting (made here with espeak-ng, a few seconds each) after
answering; the line worker records it into tmpfs, reads it as it grows and reports `AmdDecided`. The test
plays the engine's part (Bridge a person, Hangup a machine) and checks the 2-second rule from the end of
the person's greeting as the carrier sent it. One carrier, one phones simulator and one worker for all.
The voicemail message after the beep is tested end to end with the engine (tests/engine/test_amd_over_sip.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.legal import AGENT_CONNECT_DEADLINE_S
from core.runtime import Runtime
from dialer.media import corpus
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, Simulators, collect, ended, first, wait_for_stats, write_profile

pytestmark = pytest.mark.sip

HUMAN_LEAD_MS, MACHINE_LEAD_MS = 400, 300


@dataclass
class AmdBench:
    pool: LineWorkerPool
    worker: str
    trunk: str
    carrier_stats: Path
    phones_port: int
    human_greeting_end_ms: int  # in the human WAV: where "Hello, this is Maria." ends

    def dial(self, attempt_id: str, to: str, behaviour: str) -> None:
        self.pool.send(
            self.worker,
            p.DialLead(
                attempt_id=attempt_id,
                to=to,
                from_number=CALLER,
                trunk=self.trunk,
                extra_headers={"X-Sim-Behaviour": behaviour},
                amd_settings={},
            ),
        )

    def carrier_call(self, number: str) -> dict[str, Any]:
        stats = wait_for_stats(
            self.carrier_stats,
            lambda s: any(c["number"] == number and "ended" in c for c in s["calls"].values()),
        )
        return next(c for c in stats["calls"].values() if c["number"] == number)


@dataclass
class Greetings:
    human_wav: Path
    human_greeting_end_ms: int  # where "Hello, this is Maria." ends in it
    machine_wav: Path
    beep_end_ms: int  # where the voicemail greeting's beep ends in it


def make_greetings(directory: Path) -> Greetings:
    """A person's and a machine's greeting (about 2 and 5 s of sound, then silence), spoken by espeak-ng."""
    if not corpus.tools_present():
        pytest.fail("espeak-ng and sox are needed (./run tests installs them)")
    words = corpus.speak("Hello, this is Maria.", "en-us", 160)
    human = [corpus.silence(HUMAN_LEAD_MS), words, corpus.silence(5000)]
    corpus.write_wav(directory / "human.wav", corpus.normalise(np.concatenate(human), 14000))
    greeting = [corpus.silence(MACHINE_LEAD_MS)]
    for sentence in ("Hi, you have reached John.", "I can't come to the phone.", "Leave a message."):
        greeting += [corpus.speak(sentence, "en-gb", 160), corpus.silence(300)]
    greeting = [corpus.normalise(np.concatenate(greeting), 14000), corpus.beep(1400.0, 500)]
    corpus.write_wav(directory / "machine.wav", np.concatenate([*greeting, corpus.silence(6000)]))
    return Greetings(
        human_wav=directory / "human.wav",
        human_greeting_end_ms=HUMAN_LEAD_MS + len(words) * 1000 // corpus.RATE,
        machine_wav=directory / "machine.wav",
        beep_end_ms=sum(len(part) for part in greeting) * 1000 // corpus.RATE,
    )


@pytest.fixture(scope="module")
def amd_bench(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmdBench]:
    directory = tmp_path_factory.mktemp("amd")
    made = make_greetings(directory)

    simulators = Simulators(directory=directory, processes=[])
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=directory)
    try:
        behaviour = CarrierBehaviour(
            ring_s=(0.1, 0.2),
            talk_s=(4.5, 4.5),
            machine_talk_s=(12.0, 12.0),
            human_wav=str(made.human_wav),
            machine_wav=str(made.machine_wav),
        )
        carrier_port, carrier_stats = simulators.carrier(behaviour)
        phones_port, _ = simulators.phones()
        worker = pool.start_worker(profiles_dir=directory)
        pool.wait_ready([worker])
        yield AmdBench(
            pool=pool,
            worker=worker,
            trunk=write_profile(directory, "sim", carrier_port),
            carrier_stats=carrier_stats,
            phones_port=phones_port,
            human_greeting_end_ms=made.human_greeting_end_ms,
        )
    finally:
        pool.close()
        simulators.stop()


def test_a_person_is_detected_and_bridged_within_2_s_of_their_greeting(amd_bench: AmdBench) -> None:
    pool = amd_bench.pool
    pool.send(
        amd_bench.worker,
        p.CallAgent(agent_id="agent-amd", sip_uri=f"sip:agent-amd@127.0.0.1:{amd_bench.phones_port}"),
    )
    collect(pool, lambda evs: any(isinstance(e, p.AgentLegUp) for e in evs), 10)
    attempt, number = f"amd-h-{uuid.uuid4().hex[:6]}", "+12025550161"
    amd_bench.dial(attempt, number, "human")

    def engine(event: p.Event) -> None:  # what the floor does with a person: an agent at once
        if isinstance(event, p.AmdDecided) and event.result != "machine":
            pool.send(amd_bench.worker, p.Bridge(attempt_id=attempt, agent_id="agent-amd"))

    events = collect(pool, lambda evs: ended(evs, {attempt}), 15, on_event=engine)
    decided = first(events, p.AmdDecided, attempt_id=attempt)
    bridged = first(events, p.Bridged, attempt_id=attempt)
    assert isinstance(decided, p.AmdDecided) and isinstance(bridged, p.Bridged)
    assert decided.result == "human", decided
    call = amd_bench.carrier_call(number)
    greeting_end = call["greeting_started_at"] + amd_bench.human_greeting_end_ms / 1000
    # the worker's idea of the greeting's end (what the 2-second rule counts from) is the carrier's
    assert abs(decided.greeting_ended_at - greeting_end) < 0.3, (decided, greeting_end)
    assert bridged.at - greeting_end <= AGENT_CONNECT_DEADLINE_S, (bridged.at - greeting_end, decided)
    print(
        f"human: decided {decided.at - greeting_end:.2f} s after the greeting ended "
        f"({decided.cause}, audio seen {decided.lag_ms} ms late), bridged after {bridged.at - greeting_end:.2f} s"
    )
    pool.send(amd_bench.worker, p.ReleaseAgent(agent_id="agent-amd"))


def test_a_machine_is_detected_and_not_bridged(amd_bench: AmdBench) -> None:
    pool = amd_bench.pool
    attempt, number = f"amd-m-{uuid.uuid4().hex[:6]}", "+12025550162"
    amd_bench.dial(attempt, number, "machine")

    def engine(event: p.Event) -> None:  # the floor hangs a machine up when it leaves no message
        if isinstance(event, p.AmdDecided):
            pool.send(amd_bench.worker, p.Hangup(attempt_id=attempt))

    events = collect(pool, lambda evs: ended(evs, {attempt}), 15, on_event=engine)
    decided = first(events, p.AmdDecided, attempt_id=attempt)
    assert isinstance(decided, p.AmdDecided) and decided.result == "machine", decided
    assert not [e for e in events if isinstance(e, p.Bridged | p.VoicemailLeft)]
    call = amd_bench.carrier_call(number)
    assert call["ended"] == "bye_received" and not call["greeting_played_to_end"]
    print(f"machine: {decided.cause} at {decided.decided_at_ms} ms of audio, seen {decided.lag_ms} ms late")
