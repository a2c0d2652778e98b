"""Calls an agent starts: the lead offered in preview (dialed or skipped on the agent's word) and the
number an agent types (manual dial).

A campaign's `dial_method` says who decides to dial: the engine (`predictive`, `progressive`: the dial
path paces it) or the agent (`preview`, `manual`: the engine never dials on its own). Either way the call
goes through the one dial path (`DialPath.dial_for_agent`): the same dial-time verdict, caller ID and
PASSporT as any call, then the answer is bridged to the agent who started it.

Runs on the dial thread. The API's requests come over a Redis list (`requests.AgentDialRequest`) and are
answered on a reply list the API waits on, so a refusal reaches the agent with its reason. Offers are
kept here (the lead leased to this engine) and mirrored in Redis for the agent screen to read.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from campaigns.agent_dials import check_skip_reason, lease_lead, manual_lead, skip_offered_lead
from campaigns.hopper import LeasedLead, lease_leads, release_leads, renew_leases
from campaigns.models import DialMethod
from core.db import Database
from core.errors import ClearlineError
from dialer.engine.agents import AgentBoard, AgentState, AgentStatus
from dialer.engine.campaign_runs import CampaignRun
from dialer.engine.dial_path import DialPath
from dialer.engine.requests import (
    AgentDialReply,
    AgentDialRequest,
    pop_agent_dials,
    send_reply,
)

log = logging.getLogger(__name__)

OFFER_KEY = "clearline:dialer:preview-offer:"  # per agent: the lead offered to them (JSON)
AGENT_DIAL_WAIT_S = 5.0  # how long the API waits for the engine's answer; older requests are dropped
OFFER_INTERVAL_S = 0.5  # READY agents without an offer get one within this
RENEW_INTERVAL_S = 60.0

# Who decides to dial, by dial method: the engine's dial path paces these; the others wait for agents.
ENGINE_DIALS = frozenset({DialMethod.PREDICTIVE.value, DialMethod.PROGRESSIVE.value})
OFFERS_PREVIEW = frozenset({DialMethod.PREVIEW.value})


def engine_dials(dial_method: str) -> bool:
    """Whether the engine dials the campaign's leads on its own (else only on an agent's word)."""
    return dial_method in ENGINE_DIALS


@dataclass(frozen=True)
class Offer:
    agent_id: str
    campaign_id: str
    lead: LeasedLead
    offered_at: float


def read_offer(client: redis.Redis, agent_id: str) -> dict[str, Any] | None:
    """The lead offered to the agent (`lead_id`, `campaign_id`, `offered_at`), as the API reads it."""
    raw: Any = client.get(OFFER_KEY + agent_id)
    return json.loads(raw) if raw else None


class AgentDials:
    """Not thread-safe: the dial thread alone uses it."""

    def __init__(
        self,
        *,
        db: Database,
        client: redis.Redis,
        board: AgentBoard,
        dial_path: DialPath,
        holder: str,
        lease_s: float,
    ) -> None:
        self.db = db
        self.redis: Any = client
        self.board = board
        self.dial_path = dial_path
        self.holder = holder
        self.lease_s = lease_s
        self.offers: dict[str, Offer] = {}
        self._last_offer_pass = 0.0
        self._last_renewal = time.time()

    def _renew(self, now: float) -> None:
        """An offer waits for the agent as long as it takes: its lease (and the screen's copy) renewed."""
        if now - self._last_renewal < RENEW_INTERVAL_S or not self.offers:
            return
        self._last_renewal = now
        renew_leases(
            self.db,
            [o.lead.lead_id for o in self.offers.values()],
            datetime.now(UTC),
            holder=self.holder,
            lease_s=self.lease_s,
        )
        for offer in self.offers.values():
            self._publish(offer)

    def serve(self, runs: Mapping[uuid.UUID, CampaignRun]) -> None:
        for request in pop_agent_dials(self.redis, [str(c) for c in runs]):
            try:
                reply = self._handle(request, runs)
            except ClearlineError as exc:
                reply = AgentDialReply(result="refused", detail=str(exc))
            except Exception:
                log.exception("agent %s: %s failed", request.agent_id, request.kind)
                reply = AgentDialReply(result="refused", detail="the dialer failed to do it (see its log)")
            send_reply(self.redis, request.request_id, reply)
        now = time.time()
        if now - self._last_offer_pass >= OFFER_INTERVAL_S:
            self._last_offer_pass = now
            self._withdraw_stale(runs)
            self._renew(now)
            for run in runs.values():
                if run.active and run.dial_method in OFFERS_PREVIEW:
                    self._offer(run, now)

    def release_all(self) -> None:
        """The engine stops: every offered lead goes back to the hopper."""
        for agent_id in list(self.offers):
            self._withdraw(agent_id)

    # ------------------------------------------------------------------------------------ offers

    def _offer(self, run: CampaignRun, now: float) -> None:
        for agent in self.board.campaign_agents(str(run.id)):
            if agent.state is not AgentState.READY or agent.agent_id in self.offers:
                continue
            leases = lease_leads(
                self.db, run.id, 1, datetime.now(UTC), holder=self.holder, lease_s=self.lease_s
            )
            if not leases:
                return  # nothing to offer in this campaign now
            offer = Offer(agent_id=agent.agent_id, campaign_id=str(run.id), lead=leases[0], offered_at=now)
            self.offers[agent.agent_id] = offer
            self._publish(offer)
            self.board.screen_changed(agent.agent_id, offer.campaign_id)

    def _publish(self, offer: Offer) -> None:
        self.redis.set(
            OFFER_KEY + offer.agent_id,
            json.dumps(
                {
                    "lead_id": offer.lead.lead_id,
                    "campaign_id": offer.campaign_id,
                    "offered_at": offer.offered_at,
                }
            ),
            ex=int(self.lease_s),
        )

    def _withdraw_stale(self, runs: Mapping[uuid.UUID, CampaignRun]) -> None:
        """Offers whose agent logged out or moved, or whose campaign no longer previews: leads given back."""
        for agent_id, offer in list(self.offers.items()):
            status = self.board.status(agent_id)
            run = runs.get(uuid.UUID(offer.campaign_id))
            if (
                status is None
                or status.state is AgentState.LOGGED_OUT
                or status.campaign_id != offer.campaign_id
                or run is None
                or not run.active
                or run.dial_method not in OFFERS_PREVIEW
            ):
                self._withdraw(agent_id)

    def _withdraw(self, agent_id: str) -> None:
        offer = self.offers.pop(agent_id, None)
        self.redis.delete(OFFER_KEY + agent_id)
        if offer is not None:
            release_leads(self.db, [offer.lead.lead_id], holder=self.holder)
            self.board.screen_changed(agent_id, offer.campaign_id)

    def _take_offer(self, agent_id: str, lead_id: int) -> Offer | None:
        offer = self.offers.get(agent_id)
        if offer is None or offer.lead.lead_id != lead_id:
            return None
        del self.offers[agent_id]
        self.redis.delete(OFFER_KEY + agent_id)
        return offer

    # ------------------------------------------------------------------------------------ requests

    def _handle(self, request: AgentDialRequest, runs: Mapping[uuid.UUID, CampaignRun]) -> AgentDialReply:
        if time.time() - request.sent_at > AGENT_DIAL_WAIT_S:
            # The agent was told the dialer did not answer: never dial on a word given long ago.
            return AgentDialReply(result="refused", detail="the request came too late; nothing was done")
        run = runs.get(uuid.UUID(request.campaign_id))
        if run is None or not run.active:
            return AgentDialReply(result="refused", detail="your campaign is not running in the dialer")
        agent = self.board.status(request.agent_id)
        if agent is None or agent.campaign_id != request.campaign_id:
            return AgentDialReply(result="refused", detail="you are not logged in to this campaign")
        if request.kind == "preview_skip":
            return self._skip(request)
        if agent.state not in (AgentState.READY, AgentState.PAUSED):
            return AgentDialReply(
                result="refused", detail=f"you cannot start a call now: you are {agent.state.value}"
            )
        if request.kind == "preview_dial":
            return self._dial_offer(run, request, agent)
        if request.kind == "manual_dial":
            lead = manual_lead(
                self.db, run.id, request.phone, datetime.now(UTC), holder=self.holder, lease_s=self.lease_s
            )
            return self.dial_path.dial_for_agent(run, lead, agent)
        return AgentDialReply(result="refused", detail=f"unknown request {request.kind}")

    def _dial_offer(self, run: CampaignRun, request: AgentDialRequest, agent: AgentStatus) -> AgentDialReply:
        offer = self._take_offer(request.agent_id, request.lead_id)
        if offer is None:
            return AgentDialReply(result="refused", detail="that lead is not offered to you (any more)")
        # Read afresh (still leased to us): the check sees its calls of the last hours as of now.
        lead = lease_lead(
            self.db, offer.lead.lead_id, datetime.now(UTC), holder=self.holder, lease_s=self.lease_s
        )
        if lead is None:
            return AgentDialReply(result="refused", detail="that lead is no longer available")
        return self.dial_path.dial_for_agent(run, lead, agent)

    def _skip(self, request: AgentDialRequest) -> AgentDialReply:
        check_skip_reason(request.reason)  # before the offer is taken: a bad reason leaves it offered
        offer = self._take_offer(request.agent_id, request.lead_id)
        if offer is None:
            return AgentDialReply(result="refused", detail="that lead is not offered to you (any more)")
        skip_offered_lead(
            self.db,
            offer.lead.lead_id,
            holder=self.holder,
            agent_id=uuid.UUID(request.agent_id),
            reason=request.reason,
            note=request.note,
            at=datetime.now(UTC),
        )
        return AgentDialReply(result="skipped")
