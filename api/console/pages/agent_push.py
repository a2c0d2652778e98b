"""Pushing the agent's screen when their state changes: no browser polls, and neither does the server.

The agent board appends every state change to its campaign's event stream in Redis, in the same Lua
script that makes the change (`dialer.engine.agents`): the engine's claim of an agent for an answered
call, the end of the call, the wrap-up's end, a pause, a lost phone. In each server process, ONE reader
per campaign blocks on that stream (`XREAD BLOCK`, on an asyncio Redis connection, so no thread is held)
and is woken by the write itself; it flags the screens of the agents each change is about. A flagged
screen's handler reads the agent's desk once (`dialer.agent_desk.read_desk`) and sends it. Flags
coalesce: a burst of changes costs one read per screen. The reader stops when its last screen closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from litestar import Litestar

from dialer.engine.agents import EVENTS_KEY

log = logging.getLogger(__name__)

BLOCK_MS = 5_000  # one XREAD waits at most this long (then simply waits again)
KEEPALIVE_S = 15.0

Flag = asyncio.Queue[None]


class CampaignReader:
    """The one reader of a campaign's agent-event stream in this process."""

    def __init__(self, hub: AgentPushHub, campaign_id: str, first_id: str) -> None:
        self.hub, self.campaign_id = hub, campaign_id
        self.key = EVENTS_KEY + campaign_id
        self.last_id = first_id
        self.screens: dict[str, set[Flag]] = {}
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                reply: Any = await self.hub.redis.xread({self.key: self.last_id}, block=BLOCK_MS, count=1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: say so, try again; the screens keep their last state meanwhile
                log.exception("agent screens of campaign %s cannot read the agent events", self.campaign_id)
                await asyncio.sleep(1.0)
                continue
            for _stream, rows in reply or []:
                for stream_id, fields in rows:
                    self.last_id = stream_id.decode()
                    agent = fields.get(b"agent", b"").decode()
                    for flag in self.screens.get(agent, ()):
                        if flag.empty():
                            flag.put_nowait(None)


class AgentPushHub:
    """The campaign readers of one server process, and the Redis connection they share."""

    def __init__(self, redis_url: str) -> None:
        # A blocked XREAD must outlive its block time on the socket.
        self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=BLOCK_MS / 1000 + 10)
        self.readers: dict[str, CampaignReader] = {}

    async def subscribe(self, agent_id: uuid.UUID, campaign_ids: Iterable[str]) -> Flag:
        flag: Flag = asyncio.Queue(1)
        for campaign_id in set(campaign_ids):
            reader = self.readers.get(campaign_id)
            if reader is None:
                newest: Any = await self.redis.xrevrange(EVENTS_KEY + campaign_id, count=1)
                reader = self.readers.get(campaign_id)  # another screen may have started it meanwhile
                if reader is None:
                    first = newest[0][0].decode() if newest else "0-0"
                    reader = self.readers[campaign_id] = CampaignReader(self, campaign_id, first)
            reader.screens.setdefault(str(agent_id), set()).add(flag)
        return flag

    def unsubscribe(self, agent_id: uuid.UUID, flag: Flag) -> None:
        for campaign_id, reader in list(self.readers.items()):
            flags = reader.screens.get(str(agent_id))
            if flags is None:
                continue
            flags.discard(flag)
            if not flags:
                del reader.screens[str(agent_id)]
            if not reader.screens:
                reader.task.cancel()
                del self.readers[campaign_id]

    async def close(self) -> None:
        for reader in list(self.readers.values()):
            reader.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader.task
        self.readers.clear()
        await self.redis.aclose()


def agent_hub_of(app: Litestar) -> AgentPushHub:
    hub = getattr(app.state, "agent_push_hub", None)
    if hub is None:
        hub = app.state.agent_push_hub = AgentPushHub(app.state.runtime.redis_url)
    return hub


async def close_agent_screens(app: Litestar) -> None:
    """App shutdown: stop every reader."""
    hub = getattr(app.state, "agent_push_hub", None)
    if hub is not None:
        await hub.close()
