"""Request and response bodies of the campaigns API (campaigns, lead lists, leads, call attempts)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec

from campaigns import service
from campaigns.models import CallAttempt, Campaign, Disposition, Lead, LeadList


class CampaignSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every campaign setting; on create and update only the ones given are set."""

    dial_method: str | msgspec.UnsetType = msgspec.UNSET
    pacing_policy: str | msgspec.UnsetType = msgspec.UNSET
    pacing_settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    abandon_target: float | msgspec.UnsetType = msgspec.UNSET
    max_lines_per_agent: float | msgspec.UnsetType = msgspec.UNSET
    trunk_profile: str | msgspec.UnsetType = msgspec.UNSET
    max_cps: float | msgspec.UnsetType | None = msgspec.UNSET
    max_lines: int | msgspec.UnsetType | None = msgspec.UNSET
    caller_id_mode: str | msgspec.UnsetType = msgspec.UNSET
    caller_id: str | msgspec.UnsetType | None = msgspec.UNSET
    calling_window_start: str | msgspec.UnsetType | None = msgspec.UNSET
    calling_window_end: str | msgspec.UnsetType | None = msgspec.UNSET
    allowed_countries: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_states: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_area_codes: list[str] | msgspec.UnsetType = msgspec.UNSET
    default_region: str | msgspec.UnsetType = msgspec.UNSET
    dedupe_scope: str | msgspec.UnsetType = msgspec.UNSET
    recycle_rules: dict[str, dict[str, int]] | msgspec.UnsetType = msgspec.UNSET
    max_attempts: int | msgspec.UnsetType = msgspec.UNSET
    safe_harbor_wav: str | msgspec.UnsetType | None = msgspec.UNSET
    opt_out_key: str | msgspec.UnsetType = msgspec.UNSET

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}


class CampaignCreate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str
    org_id: uuid.UUID | None = None  # platform admins only


class CampaignUpdate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


class CampaignOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        settings = {name: getattr(c, name) for name in service.SETTABLE}
        for name in ("calling_window_start", "calling_window_end"):
            value = settings[name]
            settings[name] = value.isoformat(timespec="minutes") if value else None
        return cls(
            id=c.id,
            org_id=c.org_id,
            name=c.name,
            status=c.status,
            settings=settings,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class AgentsIn(msgspec.Struct, forbid_unknown_fields=True):
    agent_ids: list[uuid.UUID]


class DispositionIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    label: str = ""
    human_answered: bool = True
    sale: bool = False
    dnc: bool = False
    callback: bool = False
    final: bool = False


class DispositionOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    label: str
    human_answered: bool
    sale: bool
    dnc: bool
    callback: bool
    final: bool

    @classmethod
    def of(cls, d: Disposition) -> DispositionOut:
        return cls(
            id=d.id,
            code=d.code,
            label=d.label,
            human_answered=d.human_answered,
            sale=d.sale,
            dnc=d.dnc,
            callback=d.callback,
            final=d.final,
        )


class ImportAccepted(msgspec.Struct):
    job_id: uuid.UUID
    list_id: uuid.UUID
    job_url: str


class JobAccepted(msgspec.Struct):
    job_id: uuid.UUID
    job_url: str


class LeadListOut(msgspec.Struct):
    id: uuid.UUID
    campaign_id: uuid.UUID
    name: str
    status: str
    priority: int
    file_name: str
    file_sha256: str
    file_size: int
    column_mapping: dict[str, Any]
    counts: dict[str, Any]
    has_error_report: bool
    import_job_id: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, x: LeadList) -> LeadListOut:
        return cls(
            id=x.id,
            campaign_id=x.campaign_id,
            name=x.name,
            status=x.status,
            priority=x.priority,
            file_name=x.file_name,
            file_sha256=x.file_sha256,
            file_size=x.file_size,
            column_mapping=x.column_mapping,
            counts=x.counts,
            has_error_report=bool(x.error_report),
            import_job_id=x.import_job_id,
            created_at=x.created_at,
        )


class LeadOut(msgspec.Struct):
    id: int
    campaign_id: uuid.UUID
    list_id: uuid.UUID
    row_number: int
    phone_raw: str
    phone_e164: str
    first_name: str | None
    last_name: str | None
    state: str | None
    zip_code: str | None
    consent: str
    consent_at: date | None
    wireless: bool | None
    extra: dict[str, Any]
    status: str
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None
    callback_at: datetime | None
    callback_agent_id: uuid.UUID | None
    verdict: str
    verdict_reasons: list[str]

    @classmethod
    def of(cls, x: Lead) -> LeadOut:
        return cls(
            id=x.id,
            campaign_id=x.campaign_id,
            list_id=x.list_id,
            row_number=x.row_number,
            phone_raw=x.phone_raw,
            phone_e164=x.phone_e164,
            first_name=x.first_name,
            last_name=x.last_name,
            state=x.state,
            zip_code=x.zip_code,
            consent=x.consent,
            consent_at=x.consent_at,
            wireless=x.wireless,
            extra=x.extra,
            status=x.status,
            attempts=x.attempts,
            last_outcome=x.last_outcome,
            next_attempt_at=x.next_attempt_at,
            callback_at=x.callback_at,
            callback_agent_id=x.callback_agent_id,
            verdict=x.verdict,
            verdict_reasons=list(x.verdict_reasons),
        )


class CallbackIn(msgspec.Struct, forbid_unknown_fields=True):
    at: datetime
    same_agent: bool = False  # True: only the agent who scheduled it gets the callback


class DispositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    callback_at: datetime | None = None
    same_agent: bool = False


class AttemptOut(msgspec.Struct):
    id: uuid.UUID
    lead_id: int
    campaign_id: uuid.UUID
    e164: str
    trunk: str
    caller_id: str | None
    attestation: str | None
    attestation_reason: str | None
    origid: str | None
    identity_header_present: bool
    sip_call_id: str | None
    placed_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    agent_connected_at: datetime | None
    ended_at: datetime | None
    sip_status: int | None
    outcome: str
    agent_id: uuid.UUID | None
    disposition: str | None
    verdict_reasons: list[str]

    @classmethod
    def of(cls, a: CallAttempt) -> AttemptOut:
        return cls(
            id=a.id,
            lead_id=a.lead_id,
            campaign_id=a.campaign_id,
            e164=a.e164,
            trunk=a.trunk,
            caller_id=a.caller_id,
            attestation=a.attestation,
            attestation_reason=a.attestation_reason,
            origid=a.origid,
            identity_header_present=a.identity_header_present,
            sip_call_id=a.sip_call_id,
            placed_at=a.placed_at,
            ringing_at=a.ringing_at,
            answered_at=a.answered_at,
            agent_connected_at=a.agent_connected_at,
            ended_at=a.ended_at,
            sip_status=a.sip_status,
            outcome=a.outcome,
            agent_id=a.agent_id,
            disposition=a.disposition,
            verdict_reasons=list(a.verdict_reasons),
        )
