"""Campaign manager pages: the campaign list with today's figures, create/edit with every setting,
start / pause / finish. Each handler decodes the form and calls the same `campaigns.service` functions
as the API's routes (`api/campaigns/campaigns.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors, campaign_settings, recycle_rows
from api.console.nav import section
from api.console.render import is_htmx, page
from api.principal import Principal
from api.uploads import receive_upload
from campaigns import lead_lists, service
from campaigns.models import (
    DEFAULT_PAUSE_CODES,
    AgentCallbackFallback,
    CallerIdMode,
    Campaign,
    CampaignStatus,
    DedupeScope,
    DialMethod,
)
from core.errors import ValidationError
from core.file_store import FileStore
from core.legal import ABANDON_LIMIT as LEGAL_LIMIT
from core.models import Role
from core.runtime import Runtime
from core.uploads import UploadTooLargeError
from dialer import readiness
from dialer.engine.live import read_live_stats
from dialer.figures import campaign_figures, start_of_utc_day
from dialer.media import safe_harbor
from dialer.pacing import POLICIES
from dialer.pacing.predictive import STEER_HEADROOM
from dialer.sip.profiles import available_profiles

MANAGERS = (Role.MANAGER, Role.ORG_ADMIN)
# (value, label) of the campaign's recording setting (dnc.recording_consent says what each does).
RECORDING_MODES = [
    ("off", "Off"),
    ("on", "On, no announcement (calls into all-party-consent states are not recorded)"),
    ("announced", "On, announced where all-party consent is required"),
]
# (value, label) of the campaign's answering-machine detection switches (`amd_settings`, dialer.media.amd).
AMD_MODES = [("false", "Off: every answer goes to an agent"), ("true", "On: detect machines on the audio")]
AMD_ON_MACHINE = [
    ("false", "Hang up"),
    ("true", "Leave the campaign's message after the beep (where the lead's consent allows it)"),
]
CAMPAIGNS = section("Campaigns", "/console/campaigns", MANAGERS, order=10)

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

DIAL_METHODS = {
    DialMethod.PREDICTIVE.value: "Predictive",
    DialMethod.PROGRESSIVE.value: "Progressive",
    DialMethod.PREVIEW.value: "Preview",
    DialMethod.MANUAL.value: "Manual",
}
DIAL_METHOD_HELP = {
    DialMethod.PREDICTIVE.value: "Predictive: dials ahead of free agents, paced to the abandon target.",
    DialMethod.PROGRESSIVE.value: "Progressive: one call per free agent.",
    DialMethod.PREVIEW.value: "Preview: the agent sees the lead, then the call is placed.",
    DialMethod.MANUAL.value: "Manual: agents dial the numbers they type; the dialer dials nothing itself.",
}
AGENT_CALLBACK_FALLBACKS = [
    (AgentCallbackFallback.KEEP_WAITING.value, "Keep waiting for that agent"),
    (AgentCallbackFallback.GIVE_TO_ANYONE.value, "Give it to any free agent"),
]
CALLER_ID_MODES = {
    CallerIdMode.FIXED.value: "Fixed: always the caller ID below",
    CallerIdMode.LOCAL_PRESENCE.value: "Local presence: a number of your inventory in the lead's area code",
}
DEDUPE_SCOPES = {
    DedupeScope.NONE.value: "No de-duplication",
    DedupeScope.LIST.value: "Within the same list",
    DedupeScope.CAMPAIGN.value: "Within this campaign",
    DedupeScope.ORGANIZATION.value: "Across the organization",
}
ZONE_RULE = (
    "Times are the lead's local time. A number is called only when the time is inside this window and "
    "inside the legal calling hours (federal 08:00-21:00, narrowed by the lead's state rules) in every "
    "time zone the number may be in: when the area code spans two zones, or the lead's state disagrees "
    "with its area code, the window must hold in all of them. Leave both empty to use the legal hours only."
)


def _form_value(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return str(value[-1] if isinstance(value, list) else value)


def _form_values(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])


def _form_context(
    session: Session,
    principal: Principal,
    campaign: Campaign | None,
    values: dict[str, Any],
    errors: FormErrors,
    agent_ids: set[str],
) -> dict[str, Any]:
    org_id = campaign.org_id if campaign else principal.org_id
    profiles = available_profiles()
    current_profile = values.get("trunk_profile") or "loopback-sim"
    return {
        "campaign": campaign,
        "v": values,
        "errors": errors,
        "dial_methods": DIAL_METHODS,
        "agent_callback_fallbacks": AGENT_CALLBACK_FALLBACKS,
        "dial_method_help": " ".join(DIAL_METHOD_HELP.values()),
        "policies": sorted(POLICIES),
        "profiles": profiles if current_profile in profiles else [*profiles, current_profile],
        "missing_profile": current_profile not in profiles,
        "caller_id_modes": CALLER_ID_MODES,
        "dedupe_scopes": DEDUPE_SCOPES,
        "zone_rule": ZONE_RULE,
        "legal_limit_pct": LEGAL_LIMIT * 100,
        "steer_headroom_points": STEER_HEADROOM * 100,
        "recycle": values.get("recycle") or recycle_rows({}),
        "opt_out_keys": list("0123456789*#"),
        "recording_modes": RECORDING_MODES,
        "amd_modes": AMD_MODES,
        "amd_on_machine": AMD_ON_MACHINE,
        "agents": service.assignable_users(session, org_id) if org_id else [],
        "agent_ids": agent_ids,
        "dispositions": service.list_dispositions(session, campaign) if campaign else [],
        "disposition_codes": [d.code for d in service.list_dispositions(session, campaign)]
        if campaign
        else [d.code for d in service.DEFAULT_DISPOSITIONS],
    }


def _values_of(campaign: Campaign | None) -> dict[str, Any]:
    """The form's values for an existing campaign, or a new one's defaults."""
    if campaign is None:
        return {
            "name": "",
            "dial_method": DialMethod.PREDICTIVE.value,
            "pacing_policy": "predictive",
            "pacing_settings": "{}",
            "abandon_target_pct": "2.5",
            "max_lines_per_agent": "3",
            "trunk_profile": "loopback-sim",
            "caller_id_mode": CallerIdMode.FIXED.value,
            "allowed_countries": "US",
            "default_region": "US",
            "dedupe_scope": DedupeScope.CAMPAIGN.value,
            "max_attempts": "10",
            "opt_out_key": "9",
            "wrap_up_s": "30",
            "timeout_disposition": "TIMEOUT",
            "pause_codes": ", ".join(DEFAULT_PAUSE_CODES),
            "seller": "",
            "safe_harbor_callback_number": "",
            "recording_mode": "off",
            "amd_enabled": "false",
            "amd_voicemail_drop": "false",
            "amd_thresholds": "{}",
            "agent_callback_window_min": "60",
            "agent_callback_fallback": AgentCallbackFallback.KEEP_WAITING.value,
        }
    import json

    def codes(items: list[str]) -> str:
        return ", ".join(items or [])

    return {
        "name": campaign.name,
        "dial_method": campaign.dial_method,
        "pacing_policy": campaign.pacing_policy,
        "pacing_settings": json.dumps(campaign.pacing_settings or {}),
        "abandon_target_pct": f"{campaign.abandon_target * 100:g}",
        "max_lines_per_agent": f"{campaign.max_lines_per_agent:g}",
        "max_cps": "" if campaign.max_cps is None else f"{campaign.max_cps:g}",
        "max_lines": "" if campaign.max_lines is None else str(campaign.max_lines),
        "trunk_profile": campaign.trunk_profile,
        "caller_id_mode": campaign.caller_id_mode,
        "caller_id": campaign.caller_id or "",
        "calling_window_start": campaign.calling_window_start.strftime("%H:%M")
        if campaign.calling_window_start
        else "",
        "calling_window_end": campaign.calling_window_end.strftime("%H:%M")
        if campaign.calling_window_end
        else "",
        "allowed_countries": codes(campaign.allowed_countries),
        "blocked_states": codes(campaign.blocked_states),
        "blocked_area_codes": codes(campaign.blocked_area_codes),
        "default_region": campaign.default_region,
        "dedupe_scope": campaign.dedupe_scope,
        "max_attempts": str(campaign.max_attempts),
        "opt_out_key": campaign.opt_out_key,
        "wrap_up_s": str(campaign.wrap_up_s),
        "timeout_disposition": campaign.timeout_disposition,
        "pause_codes": ", ".join(campaign.pause_codes or []),
        "seller": campaign.seller or "",
        "safe_harbor_callback_number": campaign.safe_harbor_callback_number or "",
        "recording_mode": campaign.recording_mode,
        **_amd_values(campaign.amd_settings or {}),
        "agent_callback_window_min": str(campaign.agent_callback_window_min),
        "agent_callback_fallback": campaign.agent_callback_fallback,
        "safe_harbor": campaign.safe_harbor_source or ("uploaded" if campaign.safe_harbor_wav else "default"),
        "recycle": recycle_rows(campaign.recycle_rules or {}),
    }


def _amd_values(amd_settings: dict[str, Any]) -> dict[str, str]:
    """The AMD controls' values: the two switches, and the campaign's own thresholds (kept as they are)."""
    import json

    thresholds = {k: v for k, v in amd_settings.items() if k not in ("enabled", "voicemail_drop")}
    return {
        "amd_enabled": json.dumps(amd_settings.get("enabled") is True),
        "amd_voicemail_drop": json.dumps(amd_settings.get("voicemail_drop") is True),
        "amd_thresholds": json.dumps(thresholds),
    }


def _submitted_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: _form_value(data, k) for k in data if k != "agents"}
    values["recycle"] = [
        {
            "outcome": row["outcome"],
            "delay_min": _form_value(data, f"recycle_{row['outcome']}_delay_min"),
            "max_attempts": _form_value(data, f"recycle_{row['outcome']}_max"),
        }
        for row in recycle_rows({})
    ]
    return values


# ------------------------------------------------------------------------------------------ list


@get("/console/campaigns", opt=CAMPAIGNS.opt, include_in_schema=False, sync_to_thread=True)
def campaign_list(request: Request[Any, Any, Any], session: Session, runtime: Runtime) -> Template:
    campaigns = service.list_campaigns(session)
    midnight = start_of_utc_day(datetime.now(UTC))
    redis = runtime.redis
    rows = [
        {
            "campaign": c,
            "today": campaign_figures(session, c.id, midnight),
            "running": read_live_stats(redis, str(c.id)).running,
        }
        for c in campaigns
    ]
    return page(request, "campaigns/list.html", rows=rows, legal_limit=LEGAL_LIMIT)


# ------------------------------------------------------------------------------------------ create / edit


@get("/console/campaigns/new", opt=CAMPAIGNS.opt, include_in_schema=False, sync_to_thread=True)
def new_campaign(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    ctx = _form_context(session, principal, None, _values_of(None), FormErrors(), set())
    return page(request, "campaigns/form.html", **ctx)


def _save(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    campaign: Campaign | None,
    data: dict[str, Any],
    store: FileStore,
) -> Response[Any]:
    errors = FormErrors()
    settings = campaign_settings({k: _form_value(data, k) for k in data}, errors)
    agent_ids = _form_values(data, "agents")
    if not errors:
        try:
            if campaign is None:
                name = settings.pop("name")
                saved = service.create_campaign(
                    session, org_id=principal.org_for_write(None), name=name, settings=settings
                )
            else:
                saved = service.update_campaign(session, campaign, settings)
            service.assign_agents(session, saved, [uuid.UUID(a) for a in agent_ids])
            safe_harbor.generate_campaign_message(session, saved, store)  # as the API's save does
        except ValidationError as exc:
            session.rollback()  # nothing of a refused form is kept
            errors.add_error(exc)
        else:
            target = f"/console/campaigns/{saved.id}"
            if is_htmx(request):
                return Response(content="", status_code=200, headers={"HX-Redirect": target})
            return Redirect(path=target, status_code=303)
    if campaign is not None:
        session.refresh(campaign)
    ctx = _form_context(session, principal, campaign, _submitted_values(data), errors, set(agent_ids))
    return page(request, "campaigns/form.html", status_code=422, **ctx)


@post("/console/campaigns/new", opt=CAMPAIGNS.opt, include_in_schema=False, sync_to_thread=True)
def create_campaign(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData, runtime: Runtime
) -> Response[Any]:
    return _save(request, session, principal, None, data, runtime.files)


@get(
    "/console/campaigns/{campaign_id:uuid}/edit",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def edit_campaign(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    campaign = service.get_campaign(session, campaign_id)
    agent_ids = {str(a) for a in service.campaign_agents(session, campaign)}
    ctx = _form_context(session, principal, campaign, _values_of(campaign), FormErrors(), agent_ids)
    return page(request, "campaigns/form.html", **ctx)


@post(
    "/console/campaigns/{campaign_id:uuid}/edit",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def update_campaign(
    request: Request[Any, Any, Any],
    campaign_id: uuid.UUID,
    session: Session,
    principal: Principal,
    data: FormData,
    runtime: Runtime,
) -> Response[Any]:
    campaign = service.get_campaign(session, campaign_id)
    return _save(request, session, principal, campaign, data, runtime.files)


@post(
    "/console/campaigns/{campaign_id:uuid}/dispositions",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def add_disposition(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, session: Session, data: FormData
) -> Template:
    campaign = service.get_campaign(session, campaign_id)
    flags = set(_form_values(data, "flags"))
    spec = service.DispositionSpec(
        code=_form_value(data, "disposition_code").strip().upper(),
        label=_form_value(data, "disposition_label").strip(),
        sale="sale" in flags,
        dnc="dnc" in flags,
        callback="callback" in flags,
        final="final" in flags,
        human_answered="not_human" not in flags,
    )
    errors = FormErrors()
    try:
        service.add_disposition(session, campaign, spec)
    except ValidationError as exc:
        session.rollback()
        errors.add_error(exc)
    return page(
        request,
        "campaigns/dispositions.html",
        status_code=422 if errors else 200,
        campaign=campaign,
        dispositions=service.list_dispositions(session, campaign),
        errors=errors,
    )


# ------------------------------------------------------------------------------------------ one campaign


def _campaign_page(
    request: Request[Any, Any, Any],
    session: Session,
    campaign: Campaign,
    principal: Principal,
    runtime: Runtime,
) -> Template:
    today = campaign_figures(session, campaign.id, start_of_utc_day(datetime.now(UTC)))
    ready = readiness.campaign_readiness(
        runtime.db, runtime.redis, campaign.id, principal.scope, datetime.now(UTC)
    )
    # "not active" is what the Start button next to the list is for
    blockers = [b for b in ready.blockers if b.code != "campaign_not_active"]
    assigned = set(service.campaign_agents(session, campaign))
    return page(
        request,
        "campaigns/detail.html",
        campaign=campaign,
        today=today,
        lists=lead_lists.campaign_lead_lists(session, campaign.id),
        dispositions=service.list_dispositions(session, campaign),
        agents=[u for u in service.assignable_users(session, campaign.org_id) if u.id in assigned],
        dial_methods=DIAL_METHOD_HELP,
        caller_id_modes=CALLER_ID_MODES,
        dedupe_scopes=DEDUPE_SCOPES,
        zone_rule=ZONE_RULE,
        recycle=recycle_rows(campaign.recycle_rules or {}),
        legal_limit=LEGAL_LIMIT,
        blockers=blockers,
        warnings=list(ready.warnings),
        uploaded=campaign.safe_harbor_source != "generated" and bool(campaign.safe_harbor_wav),
        campaign_id=campaign.id,
        rule=SAFE_HARBOR_RULE,
        errors=FormErrors(),
    )


@get("/console/campaigns/{campaign_id:uuid}", opt=CAMPAIGNS.opt, include_in_schema=False, sync_to_thread=True)
def campaign_detail(
    request: Request[Any, Any, Any],
    campaign_id: uuid.UUID,
    session: Session,
    principal: Principal,
    runtime: Runtime,
) -> Template:
    return _campaign_page(request, session, service.get_campaign(session, campaign_id), principal, runtime)


def _set_status(
    request: Request[Any, Any, Any], session: Session, campaign_id: uuid.UUID, status: CampaignStatus
) -> Template:
    campaign = service.get_campaign(session, campaign_id)
    service.set_status(campaign, status)  # refusals become the page's notice
    session.flush()
    return page(request, "campaigns/status.html", campaign=campaign)


@post(
    "/console/campaigns/{campaign_id:uuid}/start",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def start_campaign(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> Template:
    """The API's start gate (`dialer.readiness.start_campaign`): refused with every hard blocker and its
    fix; once started, what still keeps it from dialing is shown as warnings."""
    try:
        campaign, ready = readiness.start_campaign(
            runtime.db, runtime.redis, campaign_id, principal.scope, datetime.now(UTC)
        )
    except readiness.NotReadyError as exc:
        return Template(
            template_name="campaigns/blockers.html",
            context={"title": "The campaign cannot start.", "kind": "error", "blockers": exc.blockers},
            status_code=409,
            headers={"HX-Retarget": "#notice", "HX-Reswap": "innerHTML"},
        )
    warnings = [b for b in (*ready.blockers, *ready.warnings) if b.code != "campaign_not_active"]
    return page(request, "campaigns/status.html", campaign=campaign, warnings=warnings)


@post(
    "/console/campaigns/{campaign_id:uuid}/pause",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def pause_campaign(request: Request[Any, Any, Any], campaign_id: uuid.UUID, session: Session) -> Template:
    return _set_status(request, session, campaign_id, CampaignStatus.PAUSED)


@post(
    "/console/campaigns/{campaign_id:uuid}/finish",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def finish_campaign(request: Request[Any, Any, Any], campaign_id: uuid.UUID, session: Session) -> Template:
    return _set_status(request, session, campaign_id, CampaignStatus.FINISHED)


# ------------------------------------------------------------------------------------------ safe harbor

SAFE_HARBOR_RULE = (
    f"A WAV file, 16-bit PCM mono at 8000 or 16000 Hz, {safe_harbor.MIN_SECONDS:g} to "
    f"{safe_harbor.MAX_SECONDS:g} seconds, that names the seller and gives the opt-out key."
)


def _safe_harbor_fragment(
    request: Request[Any, Any, Any],
    campaign_id: uuid.UUID,
    uploaded: bool,
    *,
    message: safe_harbor.SafeHarborMessage | None = None,
    errors: FormErrors | None = None,
) -> Template:
    return page(
        request,
        "campaigns/safe_harbor.html",
        status_code=422 if errors else 200,
        campaign_id=campaign_id,
        uploaded=uploaded,
        message=message,
        rule=SAFE_HARBOR_RULE,
        errors=errors or FormErrors(),
    )


@post(
    "/console/campaigns/{campaign_id:uuid}/safe-harbor",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    request_max_body_size=None,  # streamed to disk by api.uploads under the message's own size limit
)
async def upload_safe_harbor(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> Template:
    """The campaign's own safe-harbor recording, checked and stored by the same
    `safe_harbor.set_campaign_message` as `POST /api/campaigns/{id}/safe-harbor`."""

    def campaign_state() -> bool:
        with runtime.db.session(principal.scope) as s:
            return bool(service.get_campaign(s, campaign_id).safe_harbor_wav)

    had_message = await anyio.to_thread.run_sync(campaign_state)
    errors = FormErrors()
    try:
        received = await receive_upload(
            request,
            safe_harbor.upload_dir(runtime.settings.home),
            min(runtime.settings.max_upload_bytes, safe_harbor.MAX_BYTES),
            raw_body_allowed=False,
            default_name="safe-harbor.wav",
        )
    except (ValidationError, UploadTooLargeError) as exc:
        errors.add("file", str(exc))
        return _safe_harbor_fragment(request, campaign_id, had_message, errors=errors)

    def store() -> safe_harbor.SafeHarborMessage:
        try:
            with runtime.db.session(principal.scope) as s:
                campaign = service.get_campaign(s, campaign_id)
                return safe_harbor.set_campaign_message(s, campaign, runtime.files, received.file.path)
        finally:
            received.file.path.unlink(missing_ok=True)  # consumed when stored; never left behind

    try:
        message = await anyio.to_thread.run_sync(store)
    except ValidationError as exc:
        errors.add("file", str(exc))
        return _safe_harbor_fragment(request, campaign_id, had_message, errors=errors)
    return _safe_harbor_fragment(request, campaign_id, True, message=message)


PAGES = [
    upload_safe_harbor,
    campaign_list,
    new_campaign,
    create_campaign,
    edit_campaign,
    update_campaign,
    add_disposition,
    campaign_detail,
    start_campaign,
    pause_campaign,
    finish_campaign,
]
