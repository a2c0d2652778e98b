"""A campaign's running counters, written by each supervisor running it and read, merged, by the live view
(Redis hashes)."""

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
    started_ms: int = 0  # when this supervisor started running the campaign (its counts are since then)


# Each supervisor that runs (or ran) a campaign writes its own figures, under its holder name: a campaign
# handed over, taken over after a kill or briefly driven by two supervisors while one drains shows the sum
# of them all, never one overwriting another (`read_live_stats` merges them).
WRITERS_SUFFIX = ":writers"  # + to LIVE_KEY + campaign id: set of the holders that wrote figures for it
LIVE_TTL_MS = 24 * 3600 * 1000
# Counts since each supervisor started running the campaign: they add up across supervisors.
_COUNTERS = ("calls_placed", "answered", "connected", "abandoned", "machine", "blocked", "failed")
# A supervisor's counts carry on into the next one's when it took the campaign within this of the last
# write (a handover, a takeover after a kill: LEASE_TTL_S and a few seconds); an earlier run's, from before
# a gap, are another shift's (the day's figures come from the attempts, `dialer.figures`).
CONTINUED_WITHIN_MS = 60_000


def _writer_key(campaign_id: str, writer: str) -> str:
    return f"{LIVE_KEY}{campaign_id}:{writer}"


def write_live_stats(client: redis.Redis, campaign_id: str, stats: LiveStats, *, writer: str) -> None:
    """This supervisor's (`writer`, its holder name) figures of the campaign."""
    mapping: Any = {k: (int(v) if isinstance(v, bool) else v) for k, v in asdict(stats).items()}
    key, writers = _writer_key(campaign_id, writer), LIVE_KEY + campaign_id + WRITERS_SUFFIX
    pipe = client.pipeline(transaction=False)
    pipe.hset(key, mapping=mapping)
    pipe.pexpire(key, LIVE_TTL_MS)
    pipe.sadd(writers, writer)
    pipe.pexpire(writers, LIVE_TTL_MS)
    pipe.execute()


def _parse(raw: dict[bytes, bytes]) -> LiveStats:
    values = {k.decode(): v.decode() for k, v in raw.items()}
    stats = LiveStats()
    for f in fields(LiveStats):
        if f.name in values:
            kind = type(getattr(stats, f.name))
            setattr(stats, f.name, kind(float(values[f.name])) if kind is not bool else values[f.name] == "1")
    return stats


def merge_live_stats(written: list[LiveStats], *, now_ms: int) -> LiveStats:
    """One campaign's figures from what each supervisor wrote: the counts of the runs that followed one
    another without a gap added up; what is true *now* (calls in progress, dial level, running) only from
    supervisors running it that wrote in the last `STALE_AFTER_MS`, so a stopped or killed one's calls and
    dial level never linger as live."""
    merged = LiveStats()
    live = [s for s in written if s.running and now_ms - s.updated_ms < STALE_AFTER_MS]
    latest_start = max((s.started_ms for s in written), default=0)
    # The runs that chain into the latest one without a gap (its own included).
    chained = [s for s in written if s.updated_ms >= latest_start - CONTINUED_WITHIN_MS]
    for stats in chained:
        for name in _COUNTERS:
            setattr(merged, name, getattr(merged, name) + getattr(stats, name))
        merged.updated_ms = max(merged.updated_ms, stats.updated_ms)
    merged.running = bool(live)
    merged.calls_in_progress = sum(s.calls_in_progress for s in live)
    merged.max_concurrent_calls = max((s.max_concurrent_calls for s in chained), default=0)
    merged.started_ms = min((s.started_ms for s in chained), default=0)
    if live:  # the one driving it now (two only while one drains: the newest figures)
        merged.dial_level = max(live, key=lambda s: s.updated_ms).dial_level
    merged.abandon_rate = merged.abandoned / merged.answered if merged.answered else 0.0
    return merged


def read_live_stats(client: redis.Redis, campaign_id: str, *, now_ms: int | None = None) -> LiveStats:
    """The campaign's figures, merged over every supervisor that ran it in the last day."""
    writers_key = LIVE_KEY + campaign_id + WRITERS_SUFFIX
    writers = sorted(w.decode() for w in client.smembers(writers_key))  # type: ignore[union-attr]
    if not writers:
        return LiveStats()
    pipe = client.pipeline(transaction=False)
    for writer in writers:
        pipe.hgetall(_writer_key(campaign_id, writer))
    raws: list[Any] = pipe.execute()
    gone = [w for w, raw in zip(writers, raws, strict=True) if not raw]
    if gone:  # their figures expired: forget them
        client.srem(writers_key, *gone)
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    return merge_live_stats([_parse(raw) for raw in raws if raw], now_ms=now)


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
