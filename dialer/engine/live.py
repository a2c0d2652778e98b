"""A campaign's running counters, written by the engine each tick and read by the live view (Redis hash)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import redis

from dialer.engine.agents import AgentBoard, AgentState, AgentStatus

LIVE_KEY = "clearline:dialer:live:"
STALE_AFTER_MS = 5_000  # the engine writes every tick; older figures mean it is not running


@dataclass
class LiveStats:
    calls_placed: int = 0
    calls_in_progress: int = 0
    answered: int = 0  # answered by a person (human + abandoned)
    connected: int = 0
    abandoned: int = 0
    machine: int = 0
    blocked: int = 0
    failed: int = 0
    dial_level: float = 0.0
    abandon_rate: float = 0.0
    max_concurrent_calls: int = 0
    updated_ms: int = 0
    running: bool = False


def write_live_stats(client: redis.Redis, campaign_id: str, stats: LiveStats) -> None:
    mapping: Any = {k: (int(v) if isinstance(v, bool) else v) for k, v in asdict(stats).items()}
    client.hset(LIVE_KEY + campaign_id, mapping=mapping)
    client.pexpire(LIVE_KEY + campaign_id, 24 * 3600 * 1000)


def read_live_stats(client: redis.Redis, campaign_id: str, *, now_ms: int | None = None) -> LiveStats:
    raw: Any = client.hgetall(LIVE_KEY + campaign_id)
    if not raw:
        return LiveStats()
    values = {k.decode(): v.decode() for k, v in raw.items()}
    stats = LiveStats()
    for f in fields(LiveStats):
        if f.name in values:
            kind = type(getattr(stats, f.name))
            setattr(stats, f.name, kind(float(values[f.name])) if kind is not bool else values[f.name] == "1")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    stats.running = stats.running and now - stats.updated_ms < STALE_AFTER_MS
    return stats


ENGINE_KEY = "clearline:dialer:engines"  # hash: supervisor holder -> last heartbeat (epoch ms)


def write_engine_heartbeat(client: redis.Redis, holder: str, *, running: bool) -> None:
    """Each supervisor says it is alive with every stats write; a stopping one removes itself."""
    if running:
        client.hset(ENGINE_KEY, holder, int(time.time() * 1000))
    else:
        client.hdel(ENGINE_KEY, holder)


def engine_running(client: redis.Redis, *, now_ms: int | None = None) -> bool:
    """Whether any supervisor wrote a heartbeat in the last few seconds."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    beats: Any = client.hvals(ENGINE_KEY)
    return any(now - int(b) < STALE_AFTER_MS for b in beats)


@dataclass(frozen=True)
class CampaignLive:
    """What a campaign is doing right now: the engine's counters and every logged-in agent's state."""

    stats: LiveStats
    agents: list[AgentStatus]
    agent_states: dict[str, int]  # agents per state (every state but LOGGED_OUT, zeros included)


def read_campaign_live(client: redis.Redis, campaign_id: str, *, now_ms: int | None = None) -> CampaignLive:
    """The live view the API's live route and the console's wallboard both show."""
    stats = read_live_stats(client, campaign_id, now_ms=now_ms)
    agents = AgentBoard(client).campaign_agents(campaign_id)
    states: dict[str, int] = {s.value: 0 for s in AgentState if s is not AgentState.LOGGED_OUT}
    for agent in agents:
        states[agent.state.value] = states.get(agent.state.value, 0) + 1
    return CampaignLive(stats=stats, agents=agents, agent_states=states)
