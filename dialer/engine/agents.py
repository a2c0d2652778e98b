"""Live agent state in Redis, shared by the API, the supervisor and every line worker.

Every change of an agent's state is one Lua script, so it is atomic across processes: two answered calls
on two workers can never claim the same agent, and an API "pause" can never race a claim. Each change is
also appended to the campaign's agent-event stream, which the engine feeds to the pacing policy.

States: CONNECTING (the engine is calling the agent's phone) -> READY (nailed leg up, waiting) ->
INCALL (bridged to a lead) -> WRAP (disposition pending, with a deadline) -> READY again; PAUSED and
LOGGED_OUT from the API. A claim prefers agents whose leg lives on the worker that holds the answered call,
so most bridges stay inside one conference bridge.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import redis

PREFIX = "clearline:dialer:"
AGENT_KEY = PREFIX + "agent:"  # hash per agent (user id)
READY_KEY = PREFIX + "ready:"  # zset per campaign: READY agents scored by when they became ready
WRAP_KEY = PREFIX + "wrap"  # zset: agents in WRAP scored by their wrap deadline (ms)
CAMPAIGN_AGENTS_KEY = PREFIX + "campaign-agents:"  # set per campaign: every agent with live state
EVENTS_KEY = PREFIX + "agent-events:"  # stream per campaign: every state change, for the pacing policy
EVENTS_MAXLEN = 10_000
SCREEN_CHANGED = "SCREEN"  # an event-stream row that is no change of state (see `screen_changed`)


class AgentState(enum.StrEnum):
    CONNECTING = "CONNECTING"
    READY = "READY"
    INCALL = "INCALL"
    WRAP = "WRAP"
    PAUSED = "PAUSED"
    LOGGED_OUT = "LOGGED_OUT"


class AgentStateError(Exception):
    """A transition that the agent's current state does not allow (e.g. resume while in a call)."""


@dataclass(frozen=True)
class AgentStatus:
    agent_id: str
    org_id: str
    campaign_id: str
    state: AgentState
    since_ms: int
    worker: str
    leg_id: str
    session_id: str
    sip_uri: str
    attempt_id: str
    last_attempt_id: str
    wrap_until_ms: int
    pause_requested: bool
    pause_code: str = ""
    logout_requested: bool = False

    @classmethod
    def of(cls, agent_id: str, raw: dict[bytes, bytes]) -> AgentStatus:
        f = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(
            agent_id=agent_id,
            org_id=f.get("org", ""),
            campaign_id=f.get("campaign", ""),
            state=AgentState(f.get("state", AgentState.LOGGED_OUT)),
            since_ms=int(f.get("since", "0")),
            worker=f.get("worker", ""),
            leg_id=f.get("leg", ""),
            session_id=f.get("session", ""),
            sip_uri=f.get("sip_uri", ""),
            attempt_id=f.get("attempt", ""),
            last_attempt_id=f.get("last_attempt", ""),
            wrap_until_ms=int(f.get("wrap_until", "0")),
            pause_requested=f.get("pause_requested", "") == "1",
            pause_code=f.get("pause_code", ""),
            logout_requested=f.get("logout_requested", "") == "1",
        )


@dataclass(frozen=True)
class AgentEvent:
    """One state change as read back from a campaign's event stream."""

    stream_id: str
    agent_id: str
    old_state: str
    new_state: str
    at_ms: int
    pause_code: str = ""  # the agent's pause code when the change was made (for PAUSED: why)


@dataclass(frozen=True)
class ClaimedAgent:
    agent_id: str
    worker: str
    leg_id: str


# Shared Lua helpers: set a new state, keep the ready/wrap indexes in step, and log the change.
_LUA_SET_STATE = """
local function set_state(agent, new_state, now_ms, prefix)
  local key = prefix .. 'agent:' .. agent
  local old = redis.call('HGET', key, 'state') or 'LOGGED_OUT'
  local campaign = redis.call('HGET', key, 'campaign') or ''
  redis.call('HSET', key, 'state', new_state, 'since', now_ms)
  if new_state == 'READY' then
    redis.call('ZADD', prefix .. 'ready:' .. campaign, now_ms, agent)
  else
    redis.call('ZREM', prefix .. 'ready:' .. campaign, agent)
  end
  if new_state ~= 'WRAP' then
    redis.call('ZREM', prefix .. 'wrap', agent)
  end
  if new_state == 'LOGGED_OUT' then
    redis.call('SREM', prefix .. 'campaign-agents:' .. campaign, agent)
  end
  redis.call('XADD', prefix .. 'agent-events:' .. campaign, 'MAXLEN', '~', EVENTS_MAXLEN, '*',
             'agent', agent, 'old', old, 'new', new_state, 'at', now_ms,
             'code', redis.call('HGET', key, 'pause_code') or '')
  return old
end
""".replace("EVENTS_MAXLEN", str(EVENTS_MAXLEN))

# ARGV: prefix, agent, now_ms, new_state, allowed-from states (comma list, '*' = any), then field/value pairs
_LUA_TRANSITION = (
    _LUA_SET_STATE
    + """
local prefix, agent, now_ms, new_state, allowed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = prefix .. 'agent:' .. agent
local current = redis.call('HGET', key, 'state') or 'LOGGED_OUT'
if allowed ~= '*' and not string.find(',' .. allowed .. ',', ',' .. current .. ',', 1, true) then
  return {err = 'agent is ' .. current}
end
for i = 6, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
if new_state == '' then
  return current
end
return set_state(agent, new_state, now_ms, prefix)
"""
)

# KEYS[1]: the campaign's ready zset. ARGV: prefix, preferred worker, attempt id, now_ms, the workers an
# agent's leg may be on (comma list; '' = any). Oldest-ready first (fair), but an agent on the preferred
# worker wins over one elsewhere; one whose leg is on none of the workers is not taken (another
# supervisor's: the claimer could not bridge to it).
_LUA_CLAIM = (
    _LUA_SET_STATE
    + """
local prefix, worker, attempt, now_ms, allowed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local chosen, fallback = nil, nil
for _, id in ipairs(ids) do
  local key = prefix .. 'agent:' .. id
  if redis.call('HGET', key, 'state') == 'READY' then
    local leg_worker = redis.call('HGET', key, 'worker') or ''
    if allowed == '' or string.find(',' .. allowed .. ',', ',' .. leg_worker .. ',', 1, true) then
      if worker ~= '' and leg_worker == worker then
        chosen = id
        break
      end
      if fallback == nil then fallback = id end
    end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
chosen = chosen or fallback
if chosen == nil then return nil end
local key = prefix .. 'agent:' .. chosen
redis.call('HSET', key, 'attempt', attempt)
set_state(chosen, 'INCALL', now_ms, prefix)
return {chosen, redis.call('HGET', key, 'worker') or '', redis.call('HGET', key, 'leg') or ''}
"""
)

# ARGV: prefix, now_ms. Ends every wrap whose deadline passed: READY, PAUSED if a pause was asked for,
# LOGGED_OUT if a logout was. Returns agent id, attempt id pairs (flattened).
_LUA_EXPIRE_WRAPS = (
    _LUA_SET_STATE
    + """
local prefix, now_ms = ARGV[1], ARGV[2]
local due = redis.call('ZRANGEBYSCORE', prefix .. 'wrap', '-inf', now_ms)
local ended = {}
for _, id in ipairs(due) do
  local key = prefix .. 'agent:' .. id
  redis.call('ZREM', prefix .. 'wrap', id)
  if redis.call('HGET', key, 'state') == 'WRAP' then
    if redis.call('HGET', key, 'logout_requested') == '1' then
      set_state(id, 'LOGGED_OUT', now_ms, prefix)
    elseif redis.call('HGET', key, 'pause_requested') == '1' then
      redis.call('HSET', key, 'pause_requested', '0')
      set_state(id, 'PAUSED', now_ms, prefix)
    else
      set_state(id, 'READY', now_ms, prefix)
    end
    table.insert(ended, id)
    table.insert(ended, redis.call('HGET', key, 'last_attempt') or '')
  end
end
return ended
"""
)


# ARGV: prefix, agent, now_ms, worker, leg. The phone answered the nailed leg: CONNECTING -> READY, or
# PAUSED when a pause stands (the agent was paused, or asked to be, when their leg was called again).
_LUA_LEG_UP = (
    _LUA_SET_STATE
    + """
local prefix, agent, now_ms = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. 'agent:' .. agent
local current = redis.call('HGET', key, 'state') or 'LOGGED_OUT'
if current ~= 'CONNECTING' then return {err = 'agent is ' .. current} end
redis.call('HSET', key, 'worker', ARGV[4], 'leg', ARGV[5])
if redis.call('HGET', key, 'pause_requested') == '1' then
  redis.call('HSET', key, 'pause_requested', '0')
  return set_state(agent, 'PAUSED', now_ms, prefix)
end
return set_state(agent, 'READY', now_ms, prefix)
"""
)

# ARGV: prefix, agent, now_ms. The agent's leg is gone (its worker died, its campaign moved to another
# supervisor): CONNECTING again, same session; a pause (standing or asked for) is kept for the new leg.
_LUA_RECONNECT = (
    _LUA_SET_STATE
    + """
local prefix, agent, now_ms = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. 'agent:' .. agent
local current = redis.call('HGET', key, 'state') or 'LOGGED_OUT'
if current == 'LOGGED_OUT' then return {err = 'agent is LOGGED_OUT'} end
if current == 'PAUSED' then redis.call('HSET', key, 'pause_requested', '1') end
redis.call('HSET', key, 'worker', '', 'leg', '', 'attempt', '')
return set_state(agent, 'CONNECTING', now_ms, prefix)
"""
)


def now_ms() -> int:
    return int(time.time() * 1000)


class AgentBoard:
    """Reads and atomically changes the live state of agents. Safe to use from any process."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis: Any = client  # redis-py's return types are unions of sync/async; we use sync
        self._transition = client.register_script(_LUA_TRANSITION)
        self._claim = client.register_script(_LUA_CLAIM)
        self._expire = client.register_script(_LUA_EXPIRE_WRAPS)
        self._leg_up = client.register_script(_LUA_LEG_UP)
        self._reconnect = client.register_script(_LUA_RECONNECT)

    # ------------------------------------------------------------------------------------------ reads

    def status(self, agent_id: str) -> AgentStatus | None:
        raw = self.redis.hgetall(AGENT_KEY + agent_id)
        if not raw:
            return None
        return AgentStatus.of(agent_id, raw)

    def statuses(self, agent_ids: Collection[str]) -> dict[str, AgentStatus]:
        """Several agents' states in one round trip (those with no state are left out)."""
        ids = list(agent_ids)
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(AGENT_KEY + agent_id)
        return {a: AgentStatus.of(a, raw) for a, raw in zip(ids, pipe.execute(), strict=True) if raw}

    def campaign_agents(self, campaign_id: str) -> list[AgentStatus]:
        ids = sorted(m.decode() for m in self.redis.smembers(CAMPAIGN_AGENTS_KEY + campaign_id))
        out = []
        for agent_id in ids:
            status = self.status(agent_id)
            if status is not None and status.campaign_id == campaign_id:
                out.append(status)
        return out

    def events_since(self, campaign_id: str, last_id: str) -> list[AgentEvent]:
        """State changes after `last_id` ('0' for all, '$'-like use: pass the last id you saw)."""
        rows = self.redis.xrange(EVENTS_KEY + campaign_id, min=f"({last_id}" if last_id != "0" else "-")
        out = []
        for sid, fields in rows:
            f = {k.decode(): v.decode() for k, v in fields.items()}
            out.append(
                AgentEvent(
                    stream_id=sid.decode(),
                    agent_id=f["agent"],
                    old_state=f["old"],
                    new_state=f["new"],
                    at_ms=int(f["at"]),
                    pause_code=f.get("code", ""),
                )
            )
        return out

    def last_event_id(self, campaign_id: str) -> str:
        rows = self.redis.xrevrange(EVENTS_KEY + campaign_id, count=1)
        return rows[0][0].decode() if rows else "0"

    # ---------------------------------------------------------------------------------------- changes

    def _run(self, agent_id: str, new_state: str, allowed: str, at_ms: int | None, **fields: Any) -> str:
        args: list[Any] = [PREFIX, agent_id, at_ms or now_ms(), new_state, allowed]
        for name, value in fields.items():
            args += [name, "" if value is None else str(value)]
        try:
            return str(self._transition(keys=[], args=args).decode())
        except redis.ResponseError as exc:
            raise AgentStateError(str(exc)) from exc

    def start_session(
        self,
        *,
        agent_id: str,
        org_id: str,
        campaign_id: str,
        session_id: str,
        sip_uri: str,
        at_ms: int | None = None,
    ) -> None:
        """An agent logs in: CONNECTING until the engine has their phone's leg up."""
        previous = self.status(agent_id)
        if previous is not None and previous.state is not AgentState.LOGGED_OUT:
            raise AgentStateError(f"agent is {previous.state.value}; log out first")
        self.redis.sadd(CAMPAIGN_AGENTS_KEY + campaign_id, agent_id)
        self._run(
            agent_id,
            AgentState.CONNECTING,
            "LOGGED_OUT",
            at_ms,
            org=org_id,
            campaign=campaign_id,
            session=session_id,
            sip_uri=sip_uri,
            worker="",
            leg="",
            attempt="",
            last_attempt="",
            wrap_until=0,
            pause_requested=0,
            pause_code="",
            logout_requested=0,
        )

    def leg_up(self, agent_id: str, *, worker: str, leg_id: str, at_ms: int | None = None) -> None:
        """The agent's phone answered the nailed leg: the agent is READY (PAUSED when a pause stands from
        before the leg was called again, `reconnect`)."""
        try:
            self._leg_up(keys=[], args=[PREFIX, agent_id, at_ms or now_ms(), worker, leg_id])
        except redis.ResponseError as exc:
            raise AgentStateError(str(exc)) from exc

    def pause(self, agent_id: str, at_ms: int | None = None, *, code: str = "") -> AgentState:
        """READY -> PAUSED now; WRAP/INCALL -> PAUSED when the wrap ends. Returns the resulting state.
        `code` is the pause code shown in the live view."""
        status = self.status(agent_id)
        if status is None:
            raise AgentStateError("agent is LOGGED_OUT")
        if status.state in (AgentState.INCALL, AgentState.WRAP):
            self._run(agent_id, "", "INCALL,WRAP", at_ms, pause_requested=1, pause_code=code)
            return status.state
        self._run(agent_id, AgentState.PAUSED, "READY,PAUSED", at_ms, pause_code=code)
        return AgentState.PAUSED

    def resume(self, agent_id: str, at_ms: int | None = None) -> None:
        self._run(agent_id, AgentState.READY, "PAUSED", at_ms, pause_requested=0, pause_code="")

    def logout(self, agent_id: str, at_ms: int | None = None) -> AgentStatus | None:
        """Any state -> LOGGED_OUT; returns the state before, so the caller can hang up the leg."""
        status = self.status(agent_id)
        if status is None or status.state is AgentState.LOGGED_OUT:
            return None
        self._run(agent_id, AgentState.LOGGED_OUT, "*", at_ms)
        return status

    def claim(
        self,
        campaign_id: str,
        *,
        attempt_id: str,
        prefer_worker: str,
        workers: Collection[str] | None = None,
    ) -> ClaimedAgent | None:
        """Atomically take one READY agent of the campaign for `attempt_id` (INCALL), or None. `workers`:
        only an agent whose leg is on one of them (the claimer's own; None: any)."""
        allowed = "" if workers is None else ",".join(sorted(workers)) or "-"
        result = self._claim(
            keys=[READY_KEY + campaign_id], args=[PREFIX, prefer_worker, attempt_id, now_ms(), allowed]
        )
        if not result:
            return None
        agent, worker, leg = (v.decode() for v in result)
        return ClaimedAgent(agent_id=agent, worker=worker, leg_id=leg)

    def reserve(self, agent_id: str, campaign_id: str, *, attempt_id: str) -> ClaimedAgent | None:
        """Take this READY agent of the campaign for `attempt_id` (INCALL) before the call is dialed: their
        own callback is bridged to them and no other call takes them meanwhile. None if not READY there."""
        status = self.status(agent_id)
        if status is None or status.campaign_id != campaign_id or status.state is not AgentState.READY:
            return None
        try:
            self._run(agent_id, AgentState.INCALL, "READY", None, attempt=attempt_id)
        except AgentStateError:
            return None  # claimed or paused in between
        return ClaimedAgent(agent_id=agent_id, worker=status.worker, leg_id=status.leg_id)

    def hold_for_dial(self, agent_id: str, at_ms: int | None = None) -> None:
        """The agent starts a call themself (preview, manual): READY or PAUSED -> INCALL, so no other call
        can claim them; `AgentStateError` in any other state. `call_placed` then names the attempt."""
        self._run(agent_id, AgentState.INCALL, "READY,PAUSED", at_ms, attempt="", pause_code="")

    def call_placed(self, agent_id: str, attempt_id: str) -> None:
        """The call the agent started has its attempt: it is theirs (INCALL on it) from the first ring."""
        self._run(agent_id, "", "INCALL", None, attempt=attempt_id)

    def screen_changed(self, agent_id: str, campaign_id: str, at_ms: int | None = None) -> None:
        """What the agent's screen shows changed without a change of state (a lead offered in preview):
        a `SCREEN` row in the campaign's event stream wakes their screen (pacing ignores it)."""
        status = self.status(agent_id)
        state = status.state.value if status is not None else AgentState.LOGGED_OUT.value
        self.redis.xadd(
            EVENTS_KEY + campaign_id,
            {"agent": agent_id, "old": state, "new": SCREEN_CHANGED, "at": at_ms or now_ms()},
            maxlen=EVENTS_MAXLEN,
            approximate=True,
        )

    def release_unbridged(self, agent_id: str, attempt_id: str) -> None:
        """A claimed agent whose bridge failed goes straight back to READY (the call never reached them)."""
        self._run(agent_id, AgentState.READY, "INCALL", None, attempt="")

    def call_ended(self, agent_id: str, attempt_id: str, *, wrap_s: float, at_ms: int | None = None) -> bool:
        """The lead's side hung up: INCALL -> WRAP until a disposition or the wrap deadline. Whether the
        agent moved to WRAP (not when logged out mid-call or already moved on)."""
        at = at_ms or now_ms()
        deadline = at + int(wrap_s * 1000)
        status = self.status(agent_id)
        if status is None or status.state is not AgentState.INCALL or status.attempt_id != attempt_id:
            return False
        try:
            self._run(
                agent_id,
                AgentState.WRAP,
                "INCALL",
                at,
                attempt="",
                last_attempt=attempt_id,
                wrap_until=deadline,
            )
        except AgentStateError:
            return False  # changed in between (logged out by the API)
        self.redis.zadd(WRAP_KEY, {agent_id: deadline})
        return True

    def end_wrap(self, agent_id: str, at_ms: int | None = None) -> AgentState:
        """Disposition given: WRAP -> READY (or PAUSED if a pause was asked for)."""
        status = self.status(agent_id)
        if status is None or status.state is not AgentState.WRAP:
            return status.state if status else AgentState.LOGGED_OUT
        if status.logout_requested:
            self._run(agent_id, AgentState.LOGGED_OUT, "WRAP", at_ms)
            return AgentState.LOGGED_OUT
        if status.pause_requested:
            self._run(agent_id, AgentState.PAUSED, "WRAP", at_ms, pause_requested=0)
            return AgentState.PAUSED
        self._run(agent_id, AgentState.READY, "WRAP", at_ms)
        return AgentState.READY

    def expire_wraps_of_calls(self, at_ms: int | None = None) -> list[tuple[str, str]]:
        """End every wrap past its deadline; returns (agent id, attempt id of the call it was for)."""
        flat = [v.decode() for v in self._expire(keys=[], args=[PREFIX, at_ms or now_ms()])]
        return list(zip(flat[0::2], flat[1::2], strict=True))

    def request_logout(self, agent_id: str, at_ms: int | None = None) -> None:
        """Log out when the call in progress and its wrap-up end, never in the middle of a call."""
        self._run(agent_id, "", "INCALL,WRAP", at_ms, logout_requested=1)

    def reconnect(self, agent_id: str, at_ms: int | None = None) -> None:
        """The agent's leg was lost with its worker, or its campaign moved to another supervisor (or the
        engine restarted): CONNECTING again, same session. A pause, standing or asked for during the call,
        is kept: the new leg makes the agent PAUSED, not READY (`leg_up`)."""
        try:
            self._reconnect(keys=[], args=[PREFIX, agent_id, at_ms or now_ms()])
        except redis.ResponseError as exc:
            raise AgentStateError(str(exc)) from exc
