"""Requests from the API to the running engine (log an agent's phone in, hang it up, hang up
the customer's call an agent is on), via a Redis list per campaign.

The API never talks to line workers itself; it records what it wants and the supervisor acts on it at
its next tick, so an agent's session survives API restarts and works with the API on another machine.
Each campaign has its own list and only the supervisor that owns the campaign (`ownership.py`) pops it:
with several supervisors, a request reaches the one holding the agent's leg and the campaign's calls, and
waits in the list while a campaign changes hands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import redis

REQUESTS_KEY = "clearline:dialer:requests:"  # + campaign id: the campaign's list


@dataclass(frozen=True)
class EngineRequest:
    kind: str  # "agent_login" | "agent_logout" | "agent_hangup" (end the customer's call `attempt_id`)
    agent_id: str
    org_id: str
    campaign_id: str
    session_id: str = ""
    sip_uri: str = ""
    worker: str = ""
    leg_id: str = ""
    attempt_id: str = ""


def requests_key(campaign_id: str) -> str:
    return REQUESTS_KEY + campaign_id


def push_request(client: redis.Redis, request: EngineRequest) -> None:
    client.rpush(requests_key(request.campaign_id), json.dumps(asdict(request)))


def pop_requests(client: redis.Redis, campaign_ids: Iterable[str], limit: int = 100) -> list[EngineRequest]:
    """The requests waiting for these campaigns (the ones the caller owns), each campaign's in order."""
    keys = [requests_key(c) for c in campaign_ids]
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.lpop(key, limit)
    batches: list[Any] = pipe.execute()
    return [EngineRequest(**json.loads(r)) for batch in batches for r in (batch or [])]


# Calls an agent starts (preview dial or skip, manual dial): served by the dial thread, which takes the
# dial-time verdict, and answered on a reply list the API waits on, so a refusal reaches the agent with
# its reason.
AGENT_DIALS_KEY = "clearline:dialer:agent-dials"
REPLY_KEY = "clearline:dialer:agent-dial-reply:"
REPLY_TTL_S = 30


@dataclass(frozen=True)
class AgentDialRequest:
    kind: str  # "preview_dial" | "preview_skip" | "manual_dial"
    request_id: str
    agent_id: str
    org_id: str
    campaign_id: str
    lead_id: int = 0  # preview: the lead offered
    phone: str = ""  # manual: the number typed, in E.164
    reason: str = ""  # skip: one of campaigns.agent_dials.SKIP_REASONS
    note: str = ""
    sent_at: float = 0.0  # epoch s: a request older than the API waits for is dropped, never dialed late


@dataclass(frozen=True)
class AgentDialReply:
    """What became of an agent's dial: `placed` (attempt_id), `blocked` (the verdict's reasons, attempt_id of
    the blocked attempt), `skipped`, or `refused` (detail: why nothing was done)."""

    result: str
    attempt_id: str = ""
    reasons: tuple[str, ...] = ()
    detail: str = ""


def push_agent_dial(client: redis.Redis, request: AgentDialRequest) -> None:
    # One list per campaign, like the engine requests: only the supervisor running the campaign pops it.
    client.rpush(AGENT_DIALS_KEY + ":" + request.campaign_id, json.dumps(asdict(request)))


def pop_agent_dials(
    client: redis.Redis, campaign_ids: Iterable[str], limit: int = 100
) -> list[AgentDialRequest]:
    """The agents' dials waiting for these campaigns (the ones the caller runs), each campaign's in order."""
    keys = [AGENT_DIALS_KEY + ":" + c for c in campaign_ids]
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.lpop(key, limit)
    batches: list[Any] = pipe.execute()
    return [AgentDialRequest(**json.loads(r)) for batch in batches for r in (batch or [])]


def send_reply(client: redis.Redis, request_id: str, reply: AgentDialReply) -> None:
    key = REPLY_KEY + request_id
    client.rpush(key, json.dumps(asdict(reply)))
    client.expire(key, REPLY_TTL_S)


def wait_reply(client: redis.Redis, request_id: str, timeout_s: float) -> AgentDialReply | None:
    """The engine's answer, or None when it gave none in time (not running)."""
    got: Any = client.blpop([REPLY_KEY + request_id], timeout=timeout_s)
    if not got:
        return None
    data = json.loads(got[1])
    data["reasons"] = tuple(data.get("reasons", ()))
    return AgentDialReply(**data)
