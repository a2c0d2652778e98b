"""The engine's pure rules: the abandon decision and the trunk gate."""

from __future__ import annotations

from dialer.engine.outcomes import final_outcome
from dialer.engine.trunks import TrunkGate
from dialer.sip.protocol import SipOutcome


def test_a_person_bridged_within_two_seconds_is_human_and_later_is_abandoned() -> None:
    assert (
        final_outcome(
            SipOutcome.ANSWERED, answered_at=100.0, answered_by_machine=False, agent_connected_at=102.0
        )
        == "human"
    )
    assert (
        final_outcome(
            SipOutcome.ANSWERED, answered_at=100.0, answered_by_machine=False, agent_connected_at=102.01
        )
        == "abandoned"
    )
    assert (
        final_outcome(
            SipOutcome.ANSWERED, answered_at=100.0, answered_by_machine=False, agent_connected_at=None
        )
        == "abandoned"
    )
    assert (
        final_outcome(
            SipOutcome.ANSWERED, answered_at=100.0, answered_by_machine=True, agent_connected_at=None
        )
        == "machine"
    )


def test_a_worker_dying_does_not_undo_an_answer_and_unanswered_losses_do_not_burn_the_lead() -> None:
    assert (
        final_outcome(
            SipOutcome.WORKER_LOST, answered_at=1.0, answered_by_machine=False, agent_connected_at=1.5
        )
        == "human"
    )
    assert (
        final_outcome(
            SipOutcome.WORKER_LOST, answered_at=None, answered_by_machine=False, agent_connected_at=None
        )
        == "failed"
    )
    assert (
        final_outcome(
            SipOutcome.IDENTITY_REJECTED, answered_at=None, answered_by_machine=False, agent_connected_at=None
        )
        == "failed"
    )
    assert (
        final_outcome(SipOutcome.BUSY, answered_at=None, answered_by_machine=False, agent_connected_at=None)
        == "busy"
    )


def test_the_trunk_gate_holds_cps_and_concurrency_and_backs_off_after_failures() -> None:
    gate = TrunkGate("t", max_cps=3, max_concurrent=4)
    assert gate.allowance(10.0) == 3
    for _ in range(3):
        gate.placed(10.0)
    assert gate.allowance(10.5) == 0  # three in the last second
    assert gate.allowance(11.01) == 1  # the second has passed; concurrency (3 of 4) now limits
    gate.ended(11.1, trunk_failure=True)
    assert gate.allowance(11.2) == 0 and gate.allowance(12.2) == 2  # 1 s back-off, then room again
    gate.ended(12.3, trunk_failure=True)
    assert gate.allowance(13.0) == 0 and gate.allowance(14.4) > 0  # 2 s after the second failure in a row
