"""A line worker against sipp carriers: each final SIP status becomes the right outcome, the ring timeout
is never shorter than 15 s, and signed INVITEs carry Identity and P-Asserted-Identity.

All calls are placed at once by one module fixture (the no-answer call needs ≥ 15 s of ringing, the
others ride along), then each test checks one behaviour."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.runtime import Runtime
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import (
    CALLER,
    TestSigner,
    collect,
    ended,
    first,
    free_udp_port,
    start_sipp,
    write_profile,
)

pytestmark = pytest.mark.sip

CASES = {
    "answer": ("uas_answer.xml", {"ring_ms": "300"}),
    "busy": ("uas_status.xml", {"status": "486", "reason": "Busy Here"}),
    "no_answer": ("uas_no_answer.xml", {}),
    "trunk_failure": ("uas_status.xml", {"status": "503", "reason": "Service Unavailable"}),
    "invalid": ("uas_status.xml", {"status": "404", "reason": "Not Found"}),
    "headers": ("uas_check_headers.xml", {}),
}


@dataclass
class Run:
    events: list[p.Event]
    sipp_exit: dict[str, int]
    attempt: dict[str, str]

    def ended(self, case: str) -> p.Ended:
        event = first(self.events, p.Ended, attempt_id=self.attempt[case])
        assert isinstance(event, p.Ended)
        return event


@pytest.fixture(scope="module")
def run(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory, test_signer: TestSigner) -> Iterator[Run]:
    directory = tmp_path_factory.mktemp("outcomes")
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=directory)
    sipps: dict[str, subprocess.Popen[bytes]] = {}
    try:
        worker = pool.start_worker(profiles_dir=directory)
        attempt: dict[str, str] = {}
        commands: list[p.DialLead] = []
        for index, (case, (scenario, keys)) in enumerate(CASES.items()):
            port = free_udp_port()
            sipps[case] = start_sipp(scenario, port, directory, fill=keys, rtp_echo=case == "answer")
            trunk = write_profile(directory, f"sipp-{case}", port, stir_shaken=case == "headers")
            to = f"+1303555{index:04d}"
            attempt[case] = f"{case}-{uuid.uuid4().hex[:6]}"
            commands.append(
                p.DialLead(
                    attempt_id=attempt[case],
                    to=to,
                    from_number=CALLER,
                    trunk=trunk,
                    ring_timeout_s=5.0,  # below the floor on purpose: the worker must ring 15 s anyway
                    identity=test_signer.identity(CALLER, to) if case == "headers" else "",
                )
            )
        pool.wait_ready([worker])
        time.sleep(0.2)  # let the sipp processes bind their ports
        for command in commands:
            pool.send(worker, command)

        def hang_up_answered(event: p.Event) -> None:
            if isinstance(event, p.Answered):
                pool.hangup(event.attempt_id)

        events = collect(pool, lambda evs: ended(evs, set(attempt.values())), 40.0, hang_up_answered)
        exits = {case: sipp.wait(10) for case, sipp in sipps.items()}
        yield Run(events=events, sipp_exit=exits, attempt=attempt)
    finally:
        for sipp in sipps.values():
            if sipp.poll() is None:
                sipp.kill()
                sipp.wait()
        pool.close()


def test_answered_call_reports_ringing_answer_and_a_normal_end(run: Run) -> None:
    attempt_id = run.attempt["answer"]
    dialing = first(run.events, p.Dialing, attempt_id=attempt_id)
    ringing = first(run.events, p.Ringing, attempt_id=attempt_id)
    answered = first(run.events, p.Answered, attempt_id=attempt_id)
    end = run.ended("answer")
    assert dialing.at <= ringing.at <= answered.at <= end.at
    assert isinstance(answered, p.Answered) and answered.answered_by == p.AnsweredBy.HUMAN
    assert end.outcome == p.SipOutcome.ANSWERED and end.answered and end.sip_status == 200
    assert isinstance(dialing, p.Dialing) and end.sip_call_id == dialing.sip_call_id != ""
    assert run.sipp_exit["answer"] == 0


def test_486_is_busy(run: Run) -> None:
    end = run.ended("busy")
    assert (end.sip_status, end.outcome) == (486, p.SipOutcome.BUSY)


def test_unanswered_call_is_cancelled_only_after_15_s_of_ringing(run: Run) -> None:
    ringing = first(run.events, p.Ringing, attempt_id=run.attempt["no_answer"])
    end = run.ended("no_answer")
    assert end.outcome == p.SipOutcome.NO_ANSWER and end.sip_status == 487
    assert end.at - ringing.at >= 15.0
    assert run.sipp_exit["no_answer"] == 0  # sipp saw our CANCEL and the ACK of its 487


def test_503_is_a_trunk_failure_that_does_not_burn_the_lead(run: Run) -> None:
    end = run.ended("trunk_failure")
    assert (end.sip_status, end.outcome) == (503, p.SipOutcome.TRUNK_FAILURE)


def test_404_is_an_invalid_number(run: Run) -> None:
    end = run.ended("invalid")
    assert (end.sip_status, end.outcome) == (404, p.SipOutcome.INVALID)


def test_signed_invite_carries_identity_and_p_asserted_identity(run: Run) -> None:
    # sipp's scenario fails the call (exit code 1) unless both headers match; on success it says 486.
    assert run.sipp_exit["headers"] == 0
    assert run.ended("headers").sip_status == 486
