"""Creating and changing campaigns, with the validation shared by the API and the CLI."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

import phonenumbers
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from campaigns.models import (
    AgentCallbackFallback,
    CallAttempt,
    CallerIdMode,
    Campaign,
    CampaignAgent,
    CampaignStatus,
    DedupeScope,
    DialMethod,
    Disposition,
    Lead,
)
from campaigns.recycle import RecycleRules
from core.errors import ConflictError, NotFoundError, ValidationError
from core.legal import ABANDON_LIMIT
from core.models import Role, User
from core.webhooks import CAMPAIGN_STATE_CHANGED
from core.webhooks.events import emit
from dnc.caps import caps_json, parse_call_caps
from dnc.recording_consent import RecordingMode


@dataclass(frozen=True)
class DispositionSpec:
    code: str
    label: str
    human_answered: bool = True
    sale: bool = False
    dnc: bool = False
    callback: bool = False
    final: bool = False
    revoke: bool = False


DEFAULT_DISPOSITIONS = (
    DispositionSpec("SALE", "Sale", sale=True, final=True),
    DispositionSpec("NI", "Not interested", final=True),
    DispositionSpec("CALLBACK", "Call back", callback=True),
    DispositionSpec("DNC", "Do not call", dnc=True, final=True),
    DispositionSpec("REVOKED", "Revoked consent (stop these calls)", revoke=True, final=True),
    DispositionSpec("WRONG", "Wrong number", final=True),
    DispositionSpec("NOANSWER", "No answer / left no message", human_answered=False),
    # Given by the engine to a call its agent did not dispose of within the campaign's wrap-up time.
    DispositionSpec("TIMEOUT", "No disposition (wrap-up timed out)"),
)

# Settings a caller may set on a campaign (create or update), each with its validator.
SETTABLE = (
    "dial_method",
    "pacing_policy",
    "pacing_settings",
    "abandon_target",
    "max_lines_per_agent",
    "trunk_profile",
    "max_cps",
    "max_lines",
    "caller_id_mode",
    "caller_id",
    "calling_window_start",
    "calling_window_end",
    "allowed_countries",
    "blocked_states",
    "blocked_area_codes",
    "default_region",
    "dedupe_scope",
    "recycle_rules",
    "max_attempts",
    "opt_out_key",
    "wrap_up_s",
    "timeout_disposition",
    "pause_codes",
    "seller",
    "call_caps",
    "amd_settings",
    "agent_callback_window_min",
    "agent_callback_fallback",
    "safe_harbor_callback_number",
    "recording_mode",
)
# Set by the server only: the stored copy of an uploaded message (POST /api/campaigns/{id}/safe-harbor).
SERVER_SET = ("safe_harbor_wav", "safe_harbor_source", "safe_harbor_sha256")

_STATE = re.compile(r"^[A-Z]{2}$")
_AREA_CODE = re.compile(r"^[2-9][0-9]{2}$")
_CODE = re.compile(r"^[A-Z0-9_]{1,32}$")

# Bounds of the numeric settings: (lowest, highest, whole numbers only). A value outside them would stop
# the pacing arithmetic (1e308 lines per agent overflows the pool sizing) or the trunk's limits.
MAX_LINES_PER_AGENT = 20.0
NUMERIC_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "abandon_target": (0.0001, ABANDON_LIMIT, False),
    "max_lines_per_agent": (0.1, MAX_LINES_PER_AGENT, False),
    "max_cps": (0.1, 1000.0, False),
    "max_lines": (1, 100_000, True),
    "max_attempts": (1, 1000, True),
    "wrap_up_s": (5, 3600, True),
    "agent_callback_window_min": (1, 7 * 24 * 60, True),
}

# The column defaults of the settings, set on a new campaign before its settings are validated.
_COLUMN_DEFAULTS = {
    name: column
    for name in SETTABLE
    if (column := Campaign.__table__.columns[name]).default is not None and not callable(column.default.arg)
}

SettingsValidator = Callable[[Campaign, frozenset[str]], None]
_SETTINGS_VALIDATORS: list[SettingsValidator] = []


def register_settings_validator(validator: SettingsValidator) -> None:
    """Add a check of campaign settings run at every create and update, after the campaign's own rules.

    The dialer registers the checks of what only it knows (trunk profiles, pacing policies and their
    settings, the safe-harbor message), so `campaigns` need not import `dialer`. A validator gets the
    campaign with the new values set and the names of the settings being changed, and raises
    ValidationError naming the setting."""
    if validator not in _SETTINGS_VALIDATORS:
        _SETTINGS_VALIDATORS.append(validator)


def _e164(value: str, field: str) -> str:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{field} {value} is not an E.164 number (+15551234567)", field=field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{field} {value} is not a valid phone number", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _choice(value: Any, field: str, allowed: type[Any]) -> str:
    values = [m.value for m in allowed]
    if value not in values:
        raise ValidationError(f"{field} must be one of {', '.join(values)}, not {value}", field=field)
    return str(value)


def _codes(value: Any, field: str, pattern: re.Pattern[str], what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and pattern.match(v) for v in value):
        raise ValidationError(f"{field} must be a list of {what}", field=field)
    return sorted(set(value))


def _number(value: Any, field: str) -> float | int:
    low, high, whole = NUMERIC_BOUNDS[field]
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"{field} must be {kind} from {low:g} to {high:g}", field=field)
    try:
        number: float | int = int(value) if whole else float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{field} must be {kind} from {low:g} to {high:g}, not {value}", field=field
        ) from exc
    if whole and float(value) != number:
        raise ValidationError(f"{field} must be a whole number, not {value}", field=field)
    if not (math.isfinite(number) and low <= number <= high):
        raise ValidationError(f"{field} must be from {low:g} to {high:g}, not {value}", field=field)
    return number


def apply_settings(campaign: Campaign, settings: Mapping[str, Any], *, validate_all: bool = False) -> None:
    """Validate and set campaign settings; an unknown or bad setting raises ValidationError naming it.
    The registered validators check the settings given (every setting with `validate_all`: a new
    campaign's defaults must be usable too)."""
    for name, value in settings.items():
        if name in SERVER_SET:
            if value in (None, ""):
                continue  # a form that leaves it empty keeps the uploaded message (or the default)
            raise ValidationError(
                f"{name} is not a server path a user sets: upload the message with "
                "POST /api/campaigns/{id}/safe-harbor",
                field=name,
            )
        if name not in SETTABLE:
            raise ValidationError(
                f"unknown campaign setting {name}; the settings are {', '.join(SETTABLE)}", field=name
            )
        if name == "dial_method":
            value = _choice(value, name, DialMethod)
        elif name == "caller_id_mode":
            value = _choice(value, name, CallerIdMode)
        elif name == "dedupe_scope":
            value = _choice(value, name, DedupeScope)
        elif name == "agent_callback_fallback":
            value = _choice(value, name, AgentCallbackFallback)
        elif name == "recording_mode":
            value = _choice(value, name, RecordingMode)
        elif name in ("caller_id", "safe_harbor_callback_number") and value is not None:
            value = _e164(value, name)
        elif name == "abandon_target" and isinstance(value, int | float) and not 0 < value <= ABANDON_LIMIT:
            raise ValidationError(
                f"abandon_target must be above 0 and at most {ABANDON_LIMIT} (the 3% rule), not {value}",
                field=name,
            )
        elif name in NUMERIC_BOUNDS and value is not None:
            value = _number(value, name)
        elif name == "blocked_states":
            value = _codes(value, name, _STATE, "two-letter state codes")
        elif name == "allowed_countries":
            value = _codes(value, name, _STATE, "two-letter country codes")
        elif name == "blocked_area_codes":
            value = _codes(value, name, _AREA_CODE, "three-digit area codes")
        elif name == "default_region" and value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(f"default_region {value} is not a known region code (like US)", field=name)
        elif name == "opt_out_key" and value not in tuple("0123456789*#"):
            raise ValidationError("opt_out_key must be one DTMF key (0-9, * or #)", field=name)
        elif name in ("calling_window_start", "calling_window_end") and value is not None:
            value = _time_of_day(value, name)
        elif name == "pause_codes":
            _codes(value, name, _CODE, "pause codes (1-32 of A-Z, 0-9, _)")
            value = list(dict.fromkeys(value))  # in the caller's order: the first is the default
            if not value:
                raise ValidationError("give at least one pause code", field=name)
        elif name == "timeout_disposition" and not (isinstance(value, str) and _CODE.match(value)):
            raise ValidationError(
                "timeout_disposition must be a disposition code (1-32 of A-Z, 0-9, _)", field=name
            )
        elif name == "seller" and value is not None:
            if not isinstance(value, str) or len(value.strip()) > 200:
                raise ValidationError("seller must be a name of at most 200 characters", field=name)
            value = value.strip() or None
        elif name == "call_caps":
            value = caps_json(parse_call_caps(value, field=name, set_by="campaign"))
        elif name == "amd_settings" and not isinstance(value, dict):
            raise ValidationError("amd_settings must be an object", field=name)
        elif name == "pacing_settings" and not isinstance(value, dict):
            raise ValidationError("pacing_settings must be an object", field=name)
        elif name in ("trunk_profile", "pacing_policy") and not isinstance(value, str):
            raise ValidationError(f"{name} must be a name", field=name)
        setattr(campaign, name, value)
    if (campaign.calling_window_start is None) != (campaign.calling_window_end is None):
        raise ValidationError(
            "give both calling_window_start and calling_window_end, or neither", field="calling_window_start"
        )
    start, end = campaign.calling_window_start, campaign.calling_window_end
    if start is not None and end is not None and start >= end:
        raise ValidationError(
            "calling_window_start must be before calling_window_end", field="calling_window"
        )
    RecycleRules.of(campaign.recycle_rules or {}, campaign.max_attempts or 1)
    changed = frozenset(SETTABLE) if validate_all else frozenset(settings)
    for validator in _SETTINGS_VALIDATORS:
        validator(campaign, changed)


def _time_of_day(value: Any, name: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError(f"{name} must be a time of day like 09:00, not {value}", field=name) from exc


def _valid_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise ValidationError("campaign name must be 1-200 characters", field="name")
    return name


def get_campaign(session: Session, campaign_id: uuid.UUID) -> Campaign:
    """The campaign with this id in the session's scope, or NotFoundError."""
    campaign = session.scalars(select(Campaign).where(Campaign.id == campaign_id)).one_or_none()
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return campaign


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.name)))


def create_campaign(
    session: Session, *, org_id: uuid.UUID, name: str, settings: Mapping[str, Any] | None = None
) -> Campaign:
    name = _valid_name(name)
    if session.scalars(select(Campaign.id).where(Campaign.org_id == org_id, Campaign.name == name)).first():
        raise ConflictError(f"a campaign named {name!r} already exists")
    campaign = Campaign(
        org_id=org_id,
        name=name,
        status=CampaignStatus.DRAFT.value,
        recycle_rules={},
        allowed_countries=["US"],
        blocked_states=[],
        blocked_area_codes=[],
        pacing_settings={},
        **{name: column.default.arg for name, column in _COLUMN_DEFAULTS.items()},
    )
    apply_settings(campaign, settings or {}, validate_all=True)
    session.add(campaign)
    session.flush()
    for spec in DEFAULT_DISPOSITIONS:
        add_disposition(session, campaign, spec)
    return campaign


def update_campaign(session: Session, campaign: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """Rename (`name`) and change settings; every change is validated before the flush."""
    settings = dict(changes)
    name = settings.pop("name", None)
    if name is not None:
        campaign.name = _valid_name(name)
    apply_settings(campaign, settings)
    if "timeout_disposition" in settings:
        codes = [d.code for d in list_dispositions(session, campaign)]
        if campaign.timeout_disposition not in codes:
            raise ValidationError(
                f"timeout_disposition {campaign.timeout_disposition} is not one of the campaign's dispositions "
                f"({', '.join(codes)})",
                field="timeout_disposition",
            )
    session.flush()
    return campaign


def delete_campaign(session: Session, campaign: Campaign) -> None:
    """Only a draft campaign that never placed a call can be deleted; any other is finished instead, so
    its call attempts (the compliance evidence) are kept."""
    if campaign.status != CampaignStatus.DRAFT.value:
        raise ConflictError(f"campaign {campaign.id} is {campaign.status}; finish it instead of deleting it")
    if session.scalars(select(CallAttempt.id).where(CallAttempt.campaign_id == campaign.id).limit(1)).first():
        raise ConflictError(f"campaign {campaign.id} has call attempts; finish it instead of deleting it")
    session.execute(sql_delete(Lead).where(Lead.campaign_id == campaign.id))
    session.delete(campaign)


def list_dispositions(session: Session, campaign: Campaign) -> list[Disposition]:
    return list(
        session.scalars(
            select(Disposition).where(Disposition.campaign_id == campaign.id).order_by(Disposition.code)
        )
    )


def add_disposition(session: Session, campaign: Campaign, spec: DispositionSpec) -> Disposition:
    if not _CODE.match(spec.code):
        raise ValidationError("disposition code must be 1-32 of A-Z, 0-9, _", field="code")
    if spec.callback and spec.final:
        raise ValidationError("a disposition cannot both schedule a callback and be final", field="callback")
    exists = session.scalars(
        select(Disposition.id).where(Disposition.campaign_id == campaign.id, Disposition.code == spec.code)
    ).first()
    if exists:
        raise ConflictError(f"disposition {spec.code!r} already exists in this campaign")
    disposition = Disposition(
        org_id=campaign.org_id,
        campaign_id=campaign.id,
        code=spec.code,
        label=spec.label,
        human_answered=spec.human_answered,
        sale=spec.sale,
        dnc=spec.dnc,
        callback=spec.callback,
        final=spec.final,
        revoke=spec.revoke,
    )
    session.add(disposition)
    session.flush()
    return disposition


def set_status(campaign: Campaign, status: CampaignStatus) -> None:
    """Start (active), pause or finish a campaign. A finished campaign stays finished."""
    if campaign.status == CampaignStatus.FINISHED.value and status is not CampaignStatus.FINISHED:
        raise ConflictError("a finished campaign cannot be restarted")
    fixed = campaign.caller_id_mode == CallerIdMode.FIXED.value
    if status is CampaignStatus.ACTIVE and fixed and not campaign.caller_id:
        raise ValidationError("set caller_id (or local_presence) before starting", field="caller_id")
    before = campaign.status
    campaign.status = status.value
    session = object_session(campaign)
    if session is not None and before != status.value:  # sent when the caller's transaction commits
        emit(
            session, org_id=campaign.org_id, event_type=CAMPAIGN_STATE_CHANGED,
            data={"campaign_id": campaign.id, "from": before, "to": status.value},
        )  # fmt: skip


# Who may be assigned to a campaign's calls.
ASSIGNABLE_ROLES = (Role.AGENT, Role.MANAGER)


def assignable_users(session: Session, org_id: uuid.UUID) -> list[User]:
    """The organization's users who may be assigned to a campaign (active agents and managers)."""
    return list(
        session.scalars(
            select(User)
            .where(User.org_id == org_id, User.is_active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
            .order_by(User.role, User.email)
        )
    )


def campaign_agents(session: Session, campaign: Campaign) -> list[uuid.UUID]:
    return list(
        session.scalars(select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign.id))
    )


def assign_agents(session: Session, campaign: Campaign, user_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Make exactly these users the campaign's agents; each must be an active user of its organization."""
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_(user_ids), User.org_id == campaign.org_id))
    }
    for user_id in user_ids:
        user = users.get(user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        if not user.is_active or user.role not in ASSIGNABLE_ROLES:
            raise ValidationError(f"user {user_id} is not an active agent or manager", field="agent_ids")
    current = {
        a.user_id: a
        for a in session.scalars(select(CampaignAgent).where(CampaignAgent.campaign_id == campaign.id))
    }
    for user_id, assignment in current.items():
        if user_id not in users:
            session.delete(assignment)
    for user_id in users:
        if user_id not in current:
            session.add(CampaignAgent(org_id=campaign.org_id, campaign_id=campaign.id, user_id=user_id))
    session.flush()
    return sorted(users, key=str)
