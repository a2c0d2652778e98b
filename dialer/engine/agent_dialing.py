"""What an agent asks of the running engine to start a call: dial or skip the lead offered in preview,
dial a typed number. Shared by the API (`/api/agents/me/preview...`, `/api/agents/me/manual-dial`) and the
console's agent desk; the engine does the work (`agent_dials.AgentDials`, on its dial thread, with the
one dial-time check of `DialPath`) and answers; this waits for the answer and turns it into a result or
an error naming the reason.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from sqlalchemy.orm import Session

from campaigns.agent_dials import SKIP_REASONS, check_skip_reason
from campaigns.models import Campaign, Lead
from core.errors import ClearlineError, ConflictError, NotFoundError, ValidationError
from dialer.engine.agent_dials import AGENT_DIAL_WAIT_S, read_offer
from dialer.engine.agents import AgentBoard, AgentState, AgentStatus
from dialer.engine.requests import AgentDialReply, AgentDialRequest, push_agent_dial, wait_reply
from dnc import reasons as dnc_reasons
from dnc.normalize import normalize_number

REFUSAL_KEY = "clearline:dialer:agent-dial-refusal:"  # per agent: why their last dial was not placed
REFUSAL_TTL_S = 120
T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """Why the agent's last dial or skip was not done, kept for their screen until their next one (a push
    of the screen, e.g. the next lead offered, must not wipe it). `action`: preview | skip | phone."""

    action: str
    message: str
    value: str = ""


def last_refusal(client: redis.Redis, agent_id: uuid.UUID) -> Refusal | None:
    raw: Any = client.get(REFUSAL_KEY + str(agent_id))
    return Refusal(**json.loads(raw)) if raw else None


def _refusals_shown(
    client: redis.Redis, agent_id: uuid.UUID, action: str, value: str, run: Callable[[], T]
) -> T:
    """Run an agent's dial request; a refusal is kept for their screen, a success clears the last one."""
    key = REFUSAL_KEY + str(agent_id)
    try:
        result = run()
    except ClearlineError as exc:
        client.set(key, json.dumps({"action": action, "message": str(exc), "value": value}), ex=REFUSAL_TTL_S)
        raise
    client.delete(key)
    return result


class DialerNotAnsweringError(ClearlineError):
    status_code = 503
    title = "Dialer unavailable"


class DialRefusedError(ValidationError):
    """The dial-time compliance check refused the call (422): the reasons, and the attempt recording it."""

    def __init__(self, message: str, *, field: str, reasons: tuple[str, ...], attempt_id: str) -> None:
        super().__init__(message, field=field)
        self.reasons = reasons
        self.attempt_id = attempt_id
        self.problem_fields = {"reasons": list(reasons), "attempt_id": attempt_id}


@dataclass(frozen=True)
class PreviewOffer:
    lead: Lead
    campaign: Campaign
    offered_at: float


def describe_reasons(codes: tuple[str, ...]) -> str:
    return "; ".join(f"{c} ({dnc_reasons.DESCRIPTIONS.get(c, c)})" for c in codes)


def _logged_in(client: redis.Redis, agent_id: uuid.UUID) -> AgentStatus:
    status = AgentBoard(client).status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        raise ConflictError("you are not logged in")
    return status


def preview_offer(session: Session, client: redis.Redis, *, agent_id: uuid.UUID) -> PreviewOffer | None:
    """The lead offered to the agent in preview (through the caller's scoped session), or None (also when
    they are not logged in)."""
    status = AgentBoard(client).status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        return None
    offer = read_offer(client, str(agent_id))
    if offer is None or offer["campaign_id"] != status.campaign_id:
        return None
    lead = session.get(Lead, int(offer["lead_id"]))
    campaign = session.get(Campaign, uuid.UUID(offer["campaign_id"]))
    if lead is None or campaign is None:
        return None
    return PreviewOffer(lead=lead, campaign=campaign, offered_at=float(offer["offered_at"]))


def _ask(client: redis.Redis, status: AgentStatus, kind: str, **fields: object) -> AgentDialReply:
    request = AgentDialRequest(
        kind=kind,
        request_id=uuid.uuid4().hex,
        agent_id=status.agent_id,
        org_id=status.org_id,
        campaign_id=status.campaign_id,
        sent_at=time.time(),
        **fields,  # type: ignore[arg-type]
    )
    push_agent_dial(client, request)
    reply = wait_reply(client, request.request_id, AGENT_DIAL_WAIT_S)
    if reply is None:
        raise DialerNotAnsweringError(
            f"the dialer did not answer within {AGENT_DIAL_WAIT_S:.0f} s (is it running?); nothing was dialed"
        )
    return reply


def _placed(reply: AgentDialReply, *, field: str, what: str) -> str:
    if reply.result == "placed":
        return reply.attempt_id
    if reply.result == "blocked":
        raise DialRefusedError(
            f"{what} was refused by the dial-time compliance check: {describe_reasons(reply.reasons)}; "
            f"recorded as blocked call attempt {reply.attempt_id}",
            field=field,
            reasons=reply.reasons,
            attempt_id=reply.attempt_id,
        )
    raise ConflictError(f"{what} was not dialed: {reply.detail}")


def dial_preview(client: redis.Redis, *, agent_id: uuid.UUID, lead_id: int) -> str:
    """Dial the lead offered to the agent (internal lead id); returns the attempt id of the call placed."""

    def run() -> str:
        status = _logged_in(client, agent_id)
        reply = _ask(client, status, "preview_dial", lead_id=lead_id)
        return _placed(reply, field="lead_id", what="The call")

    return _refusals_shown(client, agent_id, "preview", "", run)


def skip_preview(
    client: redis.Redis, *, agent_id: uuid.UUID, lead_id: int, reason: str, note: str = ""
) -> None:
    """Skip the lead offered to the agent, with one of `SKIP_REASONS`; the next one is offered."""

    def run() -> None:
        chosen = check_skip_reason(reason)
        if len(note) > 500:
            raise ValidationError(f"note is {len(note)} characters; at most 500", field="note")
        status = _logged_in(client, agent_id)
        reply = _ask(client, status, "preview_skip", lead_id=lead_id, reason=chosen, note=note)
        if reply.result != "skipped":
            raise ConflictError(f"The lead was not skipped: {reply.detail}")

    _refusals_shown(client, agent_id, "skip", reason, run)


def manual_dial(session: Session, client: redis.Redis, *, agent_id: uuid.UUID, phone: str) -> str:
    """Dial the number the agent typed (in the campaign's default region when not in + form); returns the
    attempt id. Refused with the verdict's reasons (422) like any call the check does not allow."""

    def run() -> str:
        status = _logged_in(client, agent_id)
        campaign = session.get(Campaign, uuid.UUID(status.campaign_id))
        if campaign is None:
            raise NotFoundError("your campaign no longer exists")
        typed = (phone or "").strip()
        if len(typed) > 32:
            raise ValidationError(f"phone {typed[:32]}... is too long to be a phone number", field="phone")
        number = normalize_number(typed, campaign.default_region or "US")
        if number.e164 is None:
            raise ValidationError(
                f"phone {typed!r} is not a phone number we can dial ({number.reason}); type it with its "
                "area code, or in +country form",
                field="phone",
            )
        reply = _ask(client, status, "manual_dial", phone=number.e164)
        return _placed(reply, field="phone", what=f"The call to {number.e164}")

    return _refusals_shown(client, agent_id, "phone", phone, run)


__all__ = [
    "SKIP_REASONS",
    "DialRefusedError",
    "DialerNotAnsweringError",
    "PreviewOffer",
    "Refusal",
    "dial_preview",
    "last_refusal",
    "manual_dial",
    "preview_offer",
    "skip_preview",
]
