"""Requests from the API to the running engine (log an agent's phone in, hang it up, hang up
the customer's call an agent is on), via a Redis list.

The API never talks to line workers itself; it records what it wants and the supervisor acts on it at
its next tick, so an agent's session survives API restarts and works with the API on another machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

REQUESTS_KEY = "clearline:dialer:requests"


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


def push_request(client: redis.Redis, request: EngineRequest) -> None:
    client.rpush(REQUESTS_KEY, json.dumps(asdict(request)))


def pop_requests(client: redis.Redis, limit: int = 100) -> list[EngineRequest]:
    raw: Any = client.lpop(REQUESTS_KEY, limit)
    return [EngineRequest(**json.loads(r)) for r in (raw or [])]
