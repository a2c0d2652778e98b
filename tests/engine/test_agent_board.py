"""Live agent state: atomic claims across processes, worker preference, wrap-up and pause rules."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.runtime import Runtime
from dialer.engine.agents import READY_KEY, AgentBoard, AgentState, AgentStateError


def _login(board: AgentBoard, campaign: str, worker: str) -> str:
    agent = str(uuid.uuid4())
    board.start_session(
        agent_id=agent, org_id="org", campaign_id=campaign, session_id=str(uuid.uuid4()), sip_uri="sip:a@h"
    )
    board.leg_up(agent, worker=worker, leg_id=f"leg-{agent[:6]}")
    return agent


def test_claim_prefers_an_agent_on_the_worker_that_holds_the_call(runtime: Runtime) -> None:
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    remote = _login(board, campaign, "w1")
    local = _login(board, campaign, "w2")
    claimed = board.claim(campaign, attempt_id="a1", prefer_worker="w2")
    assert claimed is not None and claimed.agent_id == local and claimed.worker == "w2"
    claimed = board.claim(campaign, attempt_id="a2", prefer_worker="w2")
    assert claimed is not None and claimed.agent_id == remote  # falls back to any READY agent
    assert board.claim(campaign, attempt_id="a3", prefer_worker="w2") is None
    status = board.status(local)
    assert status is not None and status.state is AgentState.INCALL and status.attempt_id == "a1"


def test_claim_takes_no_agent_whose_leg_is_on_another_supervisors_workers(runtime: Runtime) -> None:
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    theirs = _login(board, campaign, "w-theirs")  # READY longest: a claim for any worker would take it
    mine = _login(board, campaign, "w-mine-2")
    claimed = board.claim(
        campaign, attempt_id="a1", prefer_worker="w-mine-1", workers={"w-mine-1", "w-mine-2"}
    )
    assert claimed is not None and claimed.agent_id == mine  # on another worker of the claimer's own
    assert board.claim(campaign, attempt_id="a2", prefer_worker="w-mine-1", workers={"w-mine-1"}) is None
    assert board.claim(campaign, attempt_id="a3", prefer_worker="w-mine-1", workers=set()) is None
    status = board.status(theirs)
    assert status is not None and status.state is AgentState.READY  # left for the supervisor holding it
    claimed = board.claim(campaign, attempt_id="a4", prefer_worker="", workers={"w-theirs"})
    assert claimed is not None and claimed.agent_id == theirs


def test_a_pause_survives_the_agents_leg_being_called_again(runtime: Runtime) -> None:
    """Their worker died or their campaign moved to another supervisor: the phone is called again, and an
    agent who was paused, or asked to pause during the call, comes back PAUSED with their code, not READY."""
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    paused, pausing, working = (_login(board, campaign, "w1") for _ in range(3))
    board.pause(paused, code="LUNCH")
    assert board.claim(campaign, attempt_id="a1", prefer_worker="w1") is not None
    assert board.claim(campaign, attempt_id="a2", prefer_worker="w1") is not None
    assert board.pause(pausing, code="BREAK") is AgentState.INCALL  # asked for during the call
    for agent in (paused, pausing, working):
        board.reconnect(agent)
        status = board.status(agent)
        assert status is not None and status.state is AgentState.CONNECTING and status.worker == ""
        board.leg_up(agent, worker="w2", leg_id=agent)
    got = {a: board.status(a) for a in (paused, pausing, working)}
    assert [(s.state, s.pause_code, s.worker) for s in got.values() if s is not None] == [
        (AgentState.PAUSED, "LUNCH", "w2"),
        (AgentState.PAUSED, "BREAK", "w2"),
        (AgentState.READY, "", "w2"),
    ]
    assert not any(s.pause_requested for s in got.values() if s is not None)
    assert board.claim(campaign, attempt_id="a3", prefer_worker="w2").agent_id == working  # type: ignore[union-attr]
    with pytest.raises(AgentStateError):
        board.leg_up(paused, worker="w3", leg_id=paused)  # not CONNECTING


CLAIMER = """
import json, sys
import redis
from dialer.engine.agents import AgentBoard
board = AgentBoard(redis.Redis.from_url(sys.argv[1]))
sys.stdin.readline()  # start together
got = [board.claim(sys.argv[2], attempt_id=f"{sys.argv[3]}-{i}", prefer_worker="") for i in range(30)]
print(json.dumps([c.agent_id for c in got if c is not None]))
"""


def test_no_agent_is_claimed_twice_by_racing_processes(runtime: Runtime, repo_root: Path) -> None:
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    agents = {_login(board, campaign, f"w{i % 3}") for i in range(40)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, runtime.redis_url, campaign, str(n)],
            cwd=repo_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed = [agent for proc in procs for agent in json.loads(proc.communicate(timeout=60)[0])]
    assert len(claimed) == len(set(claimed)) == 40
    assert set(claimed) == agents


def test_wrap_ends_at_its_deadline_or_in_pause_when_one_was_asked_for(runtime: Runtime) -> None:
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    a, b = _login(board, campaign, "w1"), _login(board, campaign, "w1")
    for attempt in ("x1", "x2"):
        claimed = board.claim(campaign, attempt_id=attempt, prefer_worker="w1")
        assert claimed is not None
    first = board.status(a)
    assert first is not None
    attempt_a = first.attempt_id
    attempt_b = "x2" if attempt_a == "x1" else "x1"
    board.call_ended(a, attempt_a, wrap_s=5, at_ms=1_000)
    board.call_ended(b, attempt_b, wrap_s=5, at_ms=1_000)
    assert board.pause(b) is AgentState.WRAP  # pause takes effect when the wrap-up ends
    assert board.expire_wraps_of_calls(at_ms=5_999) == []
    assert sorted(agent for agent, _ in board.expire_wraps_of_calls(at_ms=6_000)) == sorted([a, b])
    sa, sb = board.status(a), board.status(b)
    assert sa is not None and sa.state is AgentState.READY and sa.last_attempt_id == attempt_a
    assert sb is not None and sb.state is AgentState.PAUSED
    board.resume(b)
    with pytest.raises(AgentStateError):
        board.resume(b)


def test_every_state_change_is_in_the_campaign_event_stream(runtime: Runtime) -> None:
    board = AgentBoard(runtime.redis)
    campaign = str(uuid.uuid4())
    agent = _login(board, campaign, "w1")
    board.pause(agent)
    board.logout(agent)
    events = board.events_since(campaign, "0")
    assert [(e.old_state, e.new_state) for e in events] == [
        ("LOGGED_OUT", "CONNECTING"),
        ("CONNECTING", "READY"),
        ("READY", "PAUSED"),
        ("PAUSED", "LOGGED_OUT"),
    ]
    assert board.events_since(campaign, events[1].stream_id)[0].new_state == "PAUSED"
    assert board.campaign_agents(campaign) == []
    assert board.redis.zcard(READY_KEY + campaign) == 0  # the ready index is cleaned too
