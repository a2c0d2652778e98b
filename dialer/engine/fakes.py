"""In-memory stand-ins for what the floor reaches through `dialer.engine.ports`, for the engine's own unit
tests (as dramatiq ships its `StubBroker`): an agent board with the same transitions as the Redis one,
line workers that only record the commands sent to them, and an attempt log kept in lists.

Never used to replace PostgreSQL, Redis or SIP in integration tests: those run the real parts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from dialer.engine.agents import AgentEvent, AgentState, AgentStateError, AgentStatus, ClaimedAgent
from dialer.engine.ports import CallAlarm, CallEnd
from dialer.sip import protocol as p


class FakeAgentBoard:
    """`dialer.engine.agents.AgentBoard` in a dict: the same states, transitions and refusals (each method
    mirrors the Lua script of the same name), a claim order by READY time with the preferred worker first."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        """`clock` (epoch seconds) stamps changes made without an `at_ms`, as Redis's clock does."""
        self.clock = clock or time.time
        self.agents: dict[str, AgentStatus] = {}
        self.events: list[AgentEvent] = []  # every state change, as the Redis board's event streams
        self._ready_seq = 0
        self._ready_order: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ reads

    def status(self, agent_id: str) -> AgentStatus | None:
        return self.agents.get(agent_id)

    def events_since(self, campaign_id: str, last_id: str) -> list[AgentEvent]:
        """State changes of the campaign's agents after the event `last_id` ('0' for all)."""
        after = int(last_id)
        return [
            e
            for e in self.events[after:]
            if (status := self.agents.get(e.agent_id)) is not None and status.campaign_id == campaign_id
        ]

    def campaign_agents(self, campaign_id: str) -> list[AgentStatus]:
        return [
            a
            for _, a in sorted(self.agents.items())
            if a.campaign_id == campaign_id and a.state is not AgentState.LOGGED_OUT
        ]

    # ---------------------------------------------------------------------------------------- changes

    def _set(self, agent_id: str, state: AgentState, at_ms: int | None, **fields: Any) -> None:
        at_ms = at_ms or int(self.clock() * 1000)
        old = self.agents[agent_id].state
        status = replace(self.agents[agent_id], state=state, since_ms=at_ms, **fields)
        self.agents[agent_id] = status
        self.events.append(
            AgentEvent(
                stream_id=str(len(self.events) + 1),
                agent_id=agent_id,
                old_state=old.value,
                new_state=state.value,
                at_ms=at_ms,
            )
        )
        if state is AgentState.READY:
            self._ready_seq += 1
            self._ready_order[agent_id] = self._ready_seq
        else:
            self._ready_order.pop(agent_id, None)

    def _require(self, agent_id: str, *allowed: AgentState) -> AgentStatus:
        status = self.agents.get(agent_id)
        state = status.state if status else AgentState.LOGGED_OUT
        if status is None or state not in allowed:
            raise AgentStateError(f"agent is {state.value}")
        return status

    def log_in(
        self, agent_id: str, *, org_id: str, campaign_id: str, session_id: str = "", sip_uri: str = ""
    ) -> None:
        """`start_session`: CONNECTING until the phone's leg is up."""
        previous = self.agents.get(agent_id)
        if previous is not None and previous.state is not AgentState.LOGGED_OUT:
            raise AgentStateError(f"agent is {previous.state.value}; log out first")
        self.agents[agent_id] = AgentStatus(
            agent_id=agent_id,
            org_id=org_id,
            campaign_id=campaign_id,
            state=AgentState.CONNECTING,
            since_ms=0,
            worker="",
            leg_id="",
            session_id=session_id or str(uuid.uuid4()),
            sip_uri=sip_uri,
            attempt_id="",
            last_attempt_id="",
            wrap_until_ms=0,
            pause_requested=False,
        )

    def leg_up(self, agent_id: str, *, worker: str, leg_id: str, at_ms: int | None = None) -> None:
        status = self._require(agent_id, AgentState.CONNECTING)
        if status.pause_requested:
            self._set(agent_id, AgentState.PAUSED, at_ms, worker=worker, leg_id=leg_id, pause_requested=False)
        else:
            self._set(agent_id, AgentState.READY, at_ms, worker=worker, leg_id=leg_id)

    def claim(
        self,
        campaign_id: str,
        *,
        attempt_id: str,
        prefer_worker: str,
        workers: Collection[str] | None = None,
    ) -> ClaimedAgent | None:
        ready = sorted(
            (order, agent_id)
            for agent_id, order in self._ready_order.items()
            if self.agents[agent_id].campaign_id == campaign_id
            and (workers is None or self.agents[agent_id].worker in workers)
        )
        if not ready:
            return None
        chosen = next((a for _, a in ready if self.agents[a].worker == prefer_worker and prefer_worker), None)
        chosen = chosen or ready[0][1]
        self._set(chosen, AgentState.INCALL, None, attempt_id=attempt_id)
        status = self.agents[chosen]
        return ClaimedAgent(agent_id=chosen, worker=status.worker, leg_id=status.leg_id)

    def reserve(self, agent_id: str, campaign_id: str, *, attempt_id: str) -> ClaimedAgent | None:
        status = self.agents.get(agent_id)
        if status is None or status.campaign_id != campaign_id or status.state is not AgentState.READY:
            return None
        self._set(agent_id, AgentState.INCALL, None, attempt_id=attempt_id)
        return ClaimedAgent(agent_id=agent_id, worker=status.worker, leg_id=status.leg_id)

    def release_unbridged(self, agent_id: str, attempt_id: str) -> None:
        self._require(agent_id, AgentState.INCALL)
        self._set(agent_id, AgentState.READY, None, attempt_id="")

    def call_ended(self, agent_id: str, attempt_id: str, *, wrap_s: float, at_ms: int | None = None) -> bool:
        status = self.agents.get(agent_id)
        if status is None or status.state is not AgentState.INCALL or status.attempt_id != attempt_id:
            return False
        at = at_ms or int(self.clock() * 1000)
        self._set(
            agent_id,
            AgentState.WRAP,
            at,
            attempt_id="",
            last_attempt_id=attempt_id,
            wrap_until_ms=at + int(wrap_s * 1000),
        )
        return True

    def pause(self, agent_id: str, at_ms: int | None = None, *, code: str = "") -> AgentState:
        status = self._require(
            agent_id, AgentState.READY, AgentState.PAUSED, AgentState.INCALL, AgentState.WRAP
        )
        if status.state in (AgentState.INCALL, AgentState.WRAP):
            self.agents[agent_id] = replace(status, pause_requested=True, pause_code=code)
            return status.state
        self._set(agent_id, AgentState.PAUSED, at_ms, pause_code=code)
        return AgentState.PAUSED

    def resume(self, agent_id: str, at_ms: int | None = None) -> None:
        self._require(agent_id, AgentState.PAUSED)
        self._set(agent_id, AgentState.READY, at_ms, pause_requested=False, pause_code="")

    def logout(self, agent_id: str, at_ms: int | None = None) -> AgentStatus | None:
        status = self.agents.get(agent_id)
        if status is None or status.state is AgentState.LOGGED_OUT:
            return None
        self._set(agent_id, AgentState.LOGGED_OUT, at_ms)
        return status

    def request_logout(self, agent_id: str, at_ms: int | None = None) -> None:
        status = self._require(agent_id, AgentState.INCALL, AgentState.WRAP)
        self.agents[agent_id] = replace(status, logout_requested=True)

    def end_wrap(self, agent_id: str, at_ms: int | None = None) -> AgentState:
        status = self.agents.get(agent_id)
        if status is None or status.state is not AgentState.WRAP:
            return status.state if status else AgentState.LOGGED_OUT
        if status.logout_requested:
            self._set(agent_id, AgentState.LOGGED_OUT, at_ms)
        elif status.pause_requested:
            self._set(agent_id, AgentState.PAUSED, at_ms, pause_requested=False)
        else:
            self._set(agent_id, AgentState.READY, at_ms)
        return self.agents[agent_id].state

    def expire_wraps_of_calls(self, at_ms: int | None = None) -> list[tuple[str, str]]:
        at_ms = at_ms or int(self.clock() * 1000)
        ended = []
        for agent_id, status in sorted(self.agents.items()):
            if status.state is AgentState.WRAP and status.wrap_until_ms <= at_ms:
                self.end_wrap(agent_id, at_ms)
                ended.append((agent_id, status.last_attempt_id))
        return ended

    def reconnect(self, agent_id: str, at_ms: int | None = None) -> None:
        status = self._require(
            agent_id,
            AgentState.CONNECTING,
            AgentState.READY,
            AgentState.INCALL,
            AgentState.WRAP,
            AgentState.PAUSED,
        )
        pause = status.pause_requested or status.state is AgentState.PAUSED
        self._set(
            agent_id, AgentState.CONNECTING, at_ms, worker="", leg_id="", attempt_id="", pause_requested=pause
        )


@dataclass
class StubLines:
    """Line workers that do nothing but record the commands the floor sent (`sent`, in order).

    `legs` maps agent id -> worker holding its leg, `calls` attempt id -> worker: `bridge` raises
    `KeyError` like `LineWorkerPool.bridge` when either is unknown. Commands about calls are recorded
    whatever the worker would do with them: the test plays the worker's answers."""

    legs: dict[str, str] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    sent: list[p.Command] = field(default_factory=list)

    def bridge(self, attempt_id: str, agent_id: str) -> None:
        if attempt_id not in self.calls:
            raise KeyError(f"attempt {attempt_id} is not held by any worker")
        if agent_id not in self.legs:
            raise KeyError(f"agent {agent_id} has no nailed leg")
        self.sent.append(p.Bridge(attempt_id=attempt_id, agent_id=agent_id))

    def hangup(self, attempt_id: str) -> None:
        if attempt_id in self.calls:
            self.sent.append(p.Hangup(attempt_id=attempt_id))

    def play_safe_harbor(self, command: p.PlaySafeHarbor) -> None:
        if command.attempt_id in self.calls:
            self.sent.append(command)

    def send(self, worker_id: str, command: p.Command) -> None:
        self.sent.append(command)

    def take(self) -> list[p.Command]:
        """The commands sent since the last `take()`."""
        sent, self.sent = self.sent, []
        return sent


@dataclass
class MemoryAttemptLog:
    """The evidence the floor wrote, in lists: progress stamps per attempt, ends, opt-outs, session calls."""

    stamps: dict[str, dict[str, object]] = field(default_factory=dict)
    ends: list[CallEnd] = field(default_factory=list)
    opt_outs: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)
    session_calls: list[str] = field(default_factory=list)
    alarms: list[CallAlarm] = field(default_factory=list)

    def progress(self, attempt_id: str, **stamps: object) -> None:
        self.stamps.setdefault(attempt_id, {}).update({k: v for k, v in stamps.items() if v is not None})

    def ended(self, end: CallEnd) -> None:
        self.ends.append(end)

    def opted_out(self, org_id: uuid.UUID, e164: str, reason: str) -> None:
        self.opt_outs.append((org_id, e164, reason))

    def session_call(self, session_id: str) -> None:
        self.session_calls.append(session_id)

    def safe_harbor_failed(self, alarm: CallAlarm) -> None:
        self.alarms.append(alarm)
