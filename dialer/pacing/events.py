"""What happens on the floor, as the pacing policies see it: small immutable event records.

The dialer engine (and the simulator) report every change of an agent's or a call's state with one of
these events, stamped with the clock it passes to `PacingPolicy.observe`. Identifiers are whatever the
caller uses (uuids in the engine, ints in the simulator); a policy only compares them.

Line accounting: a call holds a line from `CallPlaced` until `CallEnded` or an outcome that ends it
(`CallAnsweredMachine`, `CallNoAnswer`, `CallBusy`, `CallFailed`). A human-answered call (then connected
or abandoned) holds its line until `CallEnded`. Events about unknown calls or agents are tolerated.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

AgentId = Hashable
CallId = Hashable


@dataclass(frozen=True, slots=True)
class AgentReady:
    """The agent is logged in and waiting for a call (also: a log-in, or the end of wrap-up)."""

    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class AgentBusy:
    """The agent is on a call (the engine also sends `CallConnected` for dialer calls)."""

    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class AgentWrap:
    """The agent's call ended and the agent is in wrap-up (after-call work)."""

    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """The agent is logged in but takes no calls."""

    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class PreviewDialRequested:
    """In preview mode, the agent looked at the lead and asked for it to be dialled."""

    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class CallPlaced:
    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallRinging:
    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallAnsweredHuman:
    """A person answered (greeting ended): an agent must be connected within 2 s or the call is abandoned."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallAnsweredMachine:
    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallNoAnswer:
    """Released after ringing out the ring timeout (at least 15 s)."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallBusy:
    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallFailed:
    """Trunk or network failure: says nothing about the lead."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallConnected:
    """A human-answered call was bridged to an agent (the agent is now busy with it)."""

    call_id: CallId
    agent_id: AgentId


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """No agent within 2 s of the answer: the safe-harbor message plays on the line."""

    call_id: CallId


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The line was released (hang-up after a conversation or after the safe-harbor message)."""

    call_id: CallId


AgentEvent = AgentReady | AgentBusy | AgentWrap | AgentPaused | AgentLoggedOut | PreviewDialRequested
CallEvent = (
    CallPlaced
    | CallRinging
    | CallAnsweredHuman
    | CallAnsweredMachine
    | CallNoAnswer
    | CallBusy
    | CallFailed
    | CallConnected
    | CallAbandoned
    | CallEnded
)
PacingEvent = AgentEvent | CallEvent
