"""The agent's screen: one page to log in with a phone, take calls and dispose of them.

Every handler is a thin caller of the functions the API's `/api/agents/me/...` routes call
(`dialer.engine.sessions`: `open_agent_session`, `pause_agent`, `log_out`, `dispose_own_call`; the agent
board's `resume`) and reads what it shows from `dialer.agent_desk.read_desk`. Each action answers with
the re-rendered desk (`agent/desk.html`, swapped by htmx); changes the engine makes (a call bridged, the
call ended, the wrap-up over, the phone lost) are pushed to the page by Server-Sent Events
(`GET /console/agent/events`, see `api.console.pages.agent_push`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
import phonenumbers
import redis
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.nav import section
from api.console.pages.agent_push import KEEPALIVE_S, agent_hub_of
from api.console.render import context, page
from api.principal import Principal
from campaigns.models import Disposition
from core.db import utcnow
from core.errors import ClearlineError, ConflictError, ValidationError
from core.models import Role
from core.public_ids import internal_lead_id, public_lead_id
from core.runtime import Runtime
from dialer.agent_desk import Desk, read_desk
from dialer.engine.agent_dialing import SKIP_REASONS, dial_preview, manual_dial, skip_preview
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.sessions import (
    assigned_campaigns,
    dispose_own_call,
    hang_up_customer,
    log_out,
    open_agent_session,
    pause_agent,
)
from dialer.phone_policy import PhoneNotAllowedError

AGENT = section("Agent desk", "/console/agent", (Role.AGENT,), order=5)

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

STATE_LABELS = {
    AgentState.LOGGED_OUT: "Logged out",
    AgentState.CONNECTING: "Calling your phone",
    AgentState.READY: "Ready",
    AgentState.INCALL: "On a call",
    AgentState.WRAP: "Wrap-up",
    AgentState.PAUSED: "Paused",
}
STATE_HELP = {
    AgentState.LOGGED_OUT: "Start a session to take calls.",
    AgentState.CONNECTING: "Answer your phone: it stays connected for the whole session.",
    AgentState.READY: "Waiting for the next call. Keep your phone connected.",
    AgentState.INCALL: "You are connected to the customer.",
    AgentState.WRAP: "The call ended. Choose its disposition.",
    AgentState.PAUSED: "No calls are sent to you until you resume.",
}
OUTCOME_LABELS = {
    "human": "Answered",
    "abandoned": "Dropped (no agent)",
    "machine": "Answering machine",
    "busy": "Busy",
    "no_answer": "No answer",
    "failed": "Failed",
    "invalid": "Invalid number",
    "blocked": "Not dialed (blocked)",
    "in_progress": "In progress",
}
PENDING_REREADS = 10  # logged out while the engine still records why: read again, at most this often
PENDING_REREAD_S = 0.3


def phone_display(e164: str) -> str:
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def _ms(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value else 0


def _button_order(d: Disposition) -> tuple[int, str]:
    """Sales first, then what the call most often was, final ones, and do-not-call last (far from key 1)."""
    return (0 if d.sale else 3 if d.dnc else 2 if d.final else 1, d.label or d.code)


def _desk_context(
    desk: Desk, errors: FormErrors | None = None, values: dict[str, str] | None = None
) -> dict[str, Any]:
    errors, values = errors or FormErrors(), dict(values or {})
    refusal = desk.refusal
    if refusal is not None and desk.may_dial and not errors.get(refusal.action):
        # Why the last dial was refused stays next to what was clicked, also in the screens pushed after.
        errors.add(refusal.action, refusal.message)
        values.setdefault("reason" if refusal.action == "skip" else refusal.action, refusal.value)
    return {
        "desk": desk,
        "buttons": sorted(
            (d for d in desk.dispositions if not d.callback and not d.revoke), key=_button_order
        ),
        "callbacks": [d for d in desk.dispositions if d.callback],
        "revocations": [d for d in desk.dispositions if d.revoke and not d.callback],
        "S": AgentState,
        "state_label": STATE_LABELS[desk.state],
        "state_help": STATE_HELP[desk.state],
        "outcome_labels": OUTCOME_LABELS,
        "phone_display": phone_display,
        "ms": _ms,
        "now_ms": _ms(desk.now),
        "errors": errors,
        "v": values,
        "campaign_options": [(str(c.id), c.name) for c in desk.campaigns],
        "callback_default": (desk.now + timedelta(days=1)).strftime("%Y-%m-%dT%H:00"),
        "skip_reasons": SKIP_REASONS,
        "public_lead_id": public_lead_id,
    }


def _read(session: Session, runtime: Runtime, principal: Principal) -> Desk:
    return read_desk(session, runtime.redis, principal.user_id, now=utcnow())


def _desk(
    request: Request[Any, Any, Any],
    desk: Desk,
    *,
    status_code: int = 200,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    return Template(
        template_name="agent/desk.html",
        context=context(request, **_desk_context(desk, errors, values)),
        status_code=status_code,
    )


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return str(value[-1] if isinstance(value, list) else value).strip()


@get("/console/agent", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def agent_page(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime
) -> Template:
    return page(
        request, "agent/page.html", section=AGENT, **_desk_context(_read(session, runtime, principal))
    )


@post("/console/agent/session", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def start_session(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/session`'s service: the URI checked, the phone rules applied, the phone called."""
    values = {"sip_uri": _field(data, "sip_uri"), "campaign_id": _field(data, "campaign_id")}
    errors = FormErrors()
    status_code = 200
    try:
        campaign_id = uuid.UUID(values["campaign_id"]) if values["campaign_id"] else None
    except ValueError:
        campaign_id = None
        errors.add("campaign_id", f"{values['campaign_id']!r} is not a campaign")
    if not errors:
        try:
            open_agent_session(
                session,
                runtime.redis,
                agent_id=principal.user_id,
                sip_uri=values["sip_uri"],
                campaign_id=campaign_id,
            )
            session.commit()
        except ValidationError as exc:
            session.rollback()
            errors.add_error(exc)
        except PhoneNotAllowedError as exc:
            session.rollback()
            errors.add("sip_uri", str(exc))
            status_code = 403
    if errors:
        desk = _read(session, runtime, principal)
        if desk.state is not AgentState.LOGGED_OUT:  # a session started elsewhere: no form to show it in
            raise ConflictError("; ".join(errors.messages()))
        return _desk(
            request,
            desk,
            status_code=status_code if status_code != 200 else 422,
            errors=errors,
            values=values,
        )
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/pause", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def pause(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/pause`'s service: now when READY, after the wrap-up when on a call."""
    pause_agent(session, runtime.redis, agent_id=principal.user_id, code=_field(data, "code") or None)
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/resume", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def resume(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime
) -> Template:
    try:
        AgentBoard(runtime.redis).resume(str(principal.user_id))
    except AgentStateError as exc:
        raise ConflictError(f"cannot resume: {exc}; only a PAUSED agent can resume") from exc
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/logout", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def end_session(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime
) -> Template:
    """`DELETE /api/agents/me/session`'s service: during a call the logout waits for the call to end."""
    log_out(session, runtime.redis, agent_id=principal.user_id)
    session.commit()
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/hangup", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def hang_up(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/hangup`'s service: the engine ends the customer's call within a tick (the
    wrap-up that follows is pushed); the phone stays connected."""
    raw = _field(data, "attempt_id")
    try:
        attempt_id = uuid.UUID(raw) if raw else None
    except ValueError:
        raise ValidationError(f"{raw!r} is not a call", field="attempt_id") from None
    hang_up_customer(runtime.redis, agent_id=principal.user_id, attempt_id=attempt_id)
    return _desk(request, _read(session, runtime, principal))


def _callback_at(data: dict[str, Any], errors: FormErrors) -> datetime | None:
    """The browser's `datetime-local` value, in the agent's own time zone (the page sends its offset)."""
    raw = _field(data, "callback_at")
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
        offset_min = int(_field(data, "tz_offset_min") or "0")  # JS getTimezoneOffset(): UTC minus local
    except ValueError:
        errors.add("callback_at", f"{raw!r} is not a date and time")
        return None
    if abs(offset_min) > 14 * 60:  # no time zone is further than 14 hours from UTC
        errors.add("callback_at", f"the browser's time zone offset {offset_min} min is not a time zone")
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=UTC) + timedelta(minutes=offset_min)
    return local.astimezone(UTC)


@post("/console/agent/disposition", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def dispose(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/disposition`'s service: give (or, within the wrap-up, correct) the call's
    disposition; a callback disposition schedules the lead for the agent or for anyone; a revocation
    keeps the agent's note of what the consumer said."""
    errors = FormErrors()
    values = {k: _field(data, k) for k in ("attempt_id", "code", "callback_at", "callback_for", "note")}
    try:
        attempt_id = uuid.UUID(values["attempt_id"])
    except ValueError:
        raise ValidationError(f"{values['attempt_id']!r} is not a call", field="attempt_id") from None
    callback_at = _callback_at(data, errors)
    if not errors:
        try:
            dispose_own_call(
                session,
                runtime.db,
                runtime.redis,
                attempt_id=attempt_id,
                agent_id=principal.user_id,
                code=values["code"],
                at=utcnow(),
                callback_at=callback_at,
                callback_same_agent=values["callback_for"] == "me",
                role=principal.role,
                note=values["note"],
            )
        except ValidationError as exc:
            errors.add_error(exc)
    if errors:
        session.rollback()
        desk = _read(session, runtime, principal)
        if desk.call is None or desk.call.attempt.id != attempt_id:  # no form to show it next to
            raise ValidationError("; ".join(errors.messages()))
        return _desk(request, desk, status_code=422, errors=errors, values=values)
    session.expire_all()  # the disposition was written through its own session
    return _desk(request, _read(session, runtime, principal))


def _public_lead(raw: str) -> int:
    try:
        internal = internal_lead_id(int(raw))
    except ValueError:
        internal = None
    if internal is None:
        raise ValidationError(f"{raw!r} is not the lead offered to you", field="preview")
    return internal


def _refused(
    request: Request[Any, Any, Any],
    session: Session,
    runtime: Runtime,
    principal: Principal,
    field: str,
    exc: ClearlineError,
    values: dict[str, str],
) -> Template:
    """A dial the engine or the check refused: the desk again, with the reason next to the control."""
    status_code = exc.status_code if exc.status_code in (409, 422, 503) else 422
    # The refusal itself is on the desk (`Desk.refusal`), shown next to the control it is about.
    return _desk(request, _read(session, runtime, principal), status_code=status_code, values=values)


@post("/console/agent/preview/dial", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def dial_offered(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/preview/dial`'s service: the dial-time check now, then the call, to you."""
    try:
        dial_preview(runtime.redis, agent_id=principal.user_id, lead_id=_public_lead(_field(data, "lead_id")))
    except ClearlineError as exc:
        return _refused(request, session, runtime, principal, "preview", exc, {})
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/preview/skip", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def skip_offered(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/preview/skip`'s service: the skip and its reason recorded, the next lead offered."""
    values = {"reason": _field(data, "reason"), "note": _field(data, "note")}
    try:
        skip_preview(
            runtime.redis,
            agent_id=principal.user_id,
            lead_id=_public_lead(_field(data, "lead_id")),
            reason=values["reason"],
            note=values["note"],
        )
    except ClearlineError as exc:
        return _refused(request, session, runtime, principal, "skip", exc, values)
    return _desk(request, _read(session, runtime, principal))


@post("/console/agent/manual-dial", opt=AGENT.opt, include_in_schema=False, sync_to_thread=True)
def dial_typed(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    """`POST /api/agents/me/manual-dial`'s service: the number checked like any call, then dialed, to you."""
    values = {"phone": _field(data, "phone")}
    try:
        manual_dial(session, runtime.redis, agent_id=principal.user_id, phone=values["phone"])
    except ClearlineError as exc:
        return _refused(request, session, runtime, principal, "phone", exc, values)
    return _desk(request, _read(session, runtime, principal))


@get("/console/agent/events", opt=AGENT.opt, include_in_schema=False)
async def agent_events(
    request: Request[Any, Any, Any], principal: Principal, runtime: Runtime
) -> ServerSentEvent:
    """The desk, pushed: at once, then each time the agent's state changes (the engine's agent events)."""
    engine = request.app.template_engine
    assert engine is not None, "the console's templates are configured by api.app.create_app"
    template = engine.get_template("agent/desk.html")

    # A client of the stream's own, one connection for its life (a push is on the card's critical path),
    # closed with the stream: closing the process-wide `runtime.redis` here cut every other request's
    # connection in the middle of its command.
    client = redis.Redis.from_url(runtime.redis_url)

    def render() -> tuple[str, Desk]:
        with runtime.db.session(principal.scope) as s:
            desk = read_desk(s, client, principal.user_id, now=utcnow())
            return template.render(**context(request, **_desk_context(desk))), desk

    def watched() -> list[str]:
        with runtime.db.session(principal.scope) as s:
            ids = {str(c.id) for c in assigned_campaigns(s, principal.user_id)}
        status = AgentBoard(runtime.redis).status(str(principal.user_id))
        if status is not None and status.campaign_id:
            ids.add(status.campaign_id)
        return sorted(ids)

    hub = agent_hub_of(request.app)
    campaign_ids = await anyio.to_thread.run_sync(watched)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        flag = await hub.subscribe(principal.user_id, campaign_ids)
        try:
            sent, rereads = "", 0
            while True:
                html, desk = await anyio.to_thread.run_sync(render)
                if desk.key != sent:
                    sent = desk.key
                    yield ServerSentEventMessage(data=html, event="desk")
                rereads = rereads + 1 if desk.end_pending else 0
                pending = desk.end_pending and rereads <= PENDING_REREADS
                try:
                    await asyncio.wait_for(flag.get(), PENDING_REREAD_S if pending else KEEPALIVE_S)
                except TimeoutError:
                    if not pending:
                        yield ServerSentEventMessage(comment="keepalive")
        finally:
            hub.unsubscribe(principal.user_id, flag)
            client.close()

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


PAGES = [
    agent_page,
    start_session,
    pause,
    resume,
    end_session,
    hang_up,
    dispose,
    agent_events,
    dial_offered,
    skip_offered,
    dial_typed,
]
