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
