"""How a finished lead call is recorded: the campaign outcome from what the SIP layer and the bridge saw.

Pure: the abandon rule (a person answered and no agent was connected within 2 s) is decided here and only
here, from the worker's own timestamps of the 200 OK and of the bridge.
"""

from __future__ import annotations

from campaigns.models import Outcome
from core.legal import AGENT_CONNECT_DEADLINE_S
from dialer.sip.protocol import SipOutcome

AGENT_DEADLINE_S = AGENT_CONNECT_DEADLINE_S  # 47 CFR 64.1200(a)(7): a live agent within 2 s of the greeting, or it is abandoned

_NOT_ANSWERED: dict[SipOutcome, Outcome] = {
    SipOutcome.BUSY: Outcome.BUSY,
    SipOutcome.NO_ANSWER: Outcome.NO_ANSWER,
    SipOutcome.INVALID: Outcome.INVALID,
    SipOutcome.TRUNK_FAILURE: Outcome.FAILED,
    SipOutcome.IDENTITY_REJECTED: Outcome.FAILED,
    SipOutcome.CANCELLED: Outcome.FAILED,
    SipOutcome.WORKER_LOST: Outcome.FAILED,
}


def final_outcome(
    sip_outcome: SipOutcome,
    *,
    answered_at: float | None,
    answered_by_machine: bool,
    agent_connected_at: float | None,
    greeting_ended_at: float | None = None,
) -> Outcome:
    """The attempt's outcome. A call answered by a person is `human` only if its agent was bridged within
    `AGENT_DEADLINE_S` of the end of their greeting (`greeting_ended_at`, heard by answering-machine
    detection), or of the answer when no detection ran (earlier, so stricter); otherwise (safe harbor, hang-up while waiting, late bridge) it is
    `abandoned`, whatever happened at the SIP level afterwards (including the worker dying)."""
    if answered_at is not None:
        if answered_by_machine:
            return Outcome.MACHINE
        start = greeting_ended_at if greeting_ended_at is not None else answered_at
        if agent_connected_at is not None and agent_connected_at - start <= AGENT_DEADLINE_S:
            return Outcome.HUMAN
        return Outcome.ABANDONED
    if sip_outcome is SipOutcome.ANSWERED:  # 200 OK reported only at the end: nobody was waiting for it
        return Outcome.FAILED
    return _NOT_ANSWERED[sip_outcome]
