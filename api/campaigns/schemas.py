"""Request and response bodies of the campaigns API (campaigns, lead lists, leads, call attempts)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from campaigns import service
from campaigns.models import CallAttempt, Campaign, Disposition, Lead, LeadList
from core.legal import ABANDON_LIMIT
from core.public_ids import public_lead_id
from dialer.pacing.guard import MAX_GUARD_LIMIT
from dialer.pacing.predictive import STEER_HEADROOM
from dialer.readiness import Blocker, Readiness


class CampaignSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every campaign setting; on create and update only the ones given are set."""

    dial_method: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="How calls are started: predictive (pacing places calls ahead of free agents), progressive (one call per free agent), preview (the agent is offered each lead and dials or skips it) or manual (agents dial the numbers they type; the dialer dials nothing itself)."
        ),
    ] = msgspec.UNSET
    pacing_policy: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="Pacing policy name: predictive, progressive, ratio, preview, vicidial-adaptive. An unknown name is refused listing the valid ones."
        ),
    ] = msgspec.UNSET
    pacing_settings: Annotated[
        dict[str, Any] | msgspec.UnsetType,
        msgspec.Meta(
            description='The policy\'s own numeric settings, e.g. {"lines_per_agent": 2.0} for ratio or {"aggressiveness": 0.006} for predictive; a setting the policy does not have is refused listing the ones it has. abandon_target, max_lines and max_cps are campaign settings of their own.'
        ),
    ] = msgspec.UNSET
    abandon_target: Annotated[
        float | msgspec.UnsetType,
        msgspec.Meta(
            description=(
                "Abandon rate the campaign stays under: the abandon guard holds the rolling rate at or below it "
                f"(at most {MAX_GUARD_LIMIT:.1%}) and predictive pacing aims {STEER_HEADROOM * 100:.1f} point under "
                f"it. Over 0 and at most {ABANDON_LIMIT} (the legal {ABANDON_LIMIT:.0%} of person-answered calls per "
                "campaign over 30 days). Default 0.025."
            )
        ),
    ] = msgspec.UNSET
    max_lines_per_agent: Annotated[
        float | msgspec.UnsetType,
        msgspec.Meta(description="Cap on calls in progress per working agent (0.1 to 20). Default 3."),
    ] = msgspec.UNSET
    trunk_profile: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="Name of a trunk profile in sip_profiles/ (a plain name, never a path); default `default` (the carrier simulator on 127.0.0.1:5090). Unknown names are refused listing the profiles."
        ),
    ] = msgspec.UNSET
    max_cps: Annotated[
        float | msgspec.UnsetType | None,
        msgspec.Meta(
            description="Cap on new calls per second for this campaign (0.1 to 1000), on top of the trunk's own limit; null: the trunk's limit only."
        ),
    ] = msgspec.UNSET
    max_lines: Annotated[
        int | msgspec.UnsetType | None,
        msgspec.Meta(
            description="Cap on calls in progress for this campaign (1 to 100000); null: no cap of its own."
        ),
    ] = msgspec.UNSET
    caller_id_mode: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="fixed: always caller_id; local_presence: a verified number of the organization's inventory in the lead's area code, else caller_id."
        ),
    ] = msgspec.UNSET
    caller_id: Annotated[
        str | msgspec.UnsetType | None,
        msgspec.Meta(
            description="The caller ID in E.164 (+12025550123); required to start with caller_id_mode fixed."
        ),
    ] = msgspec.UNSET
    calling_window_start: Annotated[
        str | msgspec.UnsetType | None,
        msgspec.Meta(
            description="Start of the campaign's own calling hours, HH:MM, in each lead's local time. Zone rule: a lead's candidate time zones come from its area code and, when known, its state and ZIP; a call is allowed only when it is inside the window in EVERY candidate zone, and the campaign window can only narrow the law's hours (federal 08:00-21:00, stricter state rules), never widen them. Give start and end together."
        ),
    ] = msgspec.UNSET
    calling_window_end: Annotated[
        str | msgspec.UnsetType | None,
        msgspec.Meta(
            description="End of the campaign's own calling hours, HH:MM local time (see calling_window_start for the zone rule)."
        ),
    ] = msgspec.UNSET
    allowed_countries: Annotated[
        list[str] | msgspec.UnsetType,
        msgspec.Meta(description='Two-letter country codes leads may be in (default ["US"]).'),
    ] = msgspec.UNSET
    blocked_states: Annotated[
        list[str] | msgspec.UnsetType,
        msgspec.Meta(description="Two-letter state codes never called by this campaign."),
    ] = msgspec.UNSET
    blocked_area_codes: Annotated[
        list[str] | msgspec.UnsetType,
        msgspec.Meta(description="Three-digit NANP area codes never called by this campaign."),
    ] = msgspec.UNSET
    default_region: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(description="Region used to read numbers without a country code (default US)."),
    ] = msgspec.UNSET
    dedupe_scope: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="Against which leads an imported number counts as a duplicate: none, list, campaign or organization."
        ),
    ] = msgspec.UNSET
    recycle_rules: Annotated[
        dict[str, dict[str, int]] | msgspec.UnsetType,
        msgspec.Meta(
            description='When a lead is tried again after an outcome: {outcome: {"delay_s": seconds, "max_attempts": n}} for the outcomes no_answer, busy, machine, abandoned, failed and human (human: after a non-final disposition). Outcomes not given keep their defaults (no_answer 3600 s x6, busy 900 s x6, machine 4 h x4, abandoned 3600 s x3, failed 300 s x20, human 24 h x3).'
        ),
    ] = msgspec.UNSET
    max_attempts: Annotated[
        int | msgspec.UnsetType,
        msgspec.Meta(
            description="Cap on counted attempts per lead over every outcome (1 to 1000; failed and blocked attempts do not count). Default 10."
        ),
    ] = msgspec.UNSET
    opt_out_key: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="DTMF key (0-9, * or #) that adds the number to the internal DNC list during the safe-harbor message. Default 9."
        ),
    ] = msgspec.UNSET
    safe_harbor_callback_number: Annotated[
        str | msgspec.UnsetType | None,
        msgspec.Meta(
            description="The number (E.164) the safe-harbor message gives for calling back. With the seller (or the organization's name) and opt_out_key it makes the generated message (espeak-ng), made when the campaign is saved or started, unless a recorded message was uploaded. Default none: the shipped placeholder message."
        ),
    ] = msgspec.UNSET
    recording_mode: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description='Call recording: off (default); on (the bridged conversation is recorded where one party\'s consent suffices; calls into all-party-consent states such as CA, FL, IL, MD, MA, MT, NH, PA, WA are not recorded, and the attempt says why); announced (in those states "This call is being recorded." plays to both parties when the agent is connected and recording starts after it; elsewhere recorded from the bridge). The list of states, with sources, is GET /api/recording-consent-states.'
        ),
    ] = msgspec.UNSET
    seller: Annotated[
        str | msgspec.UnsetType | None,
        msgspec.Meta(
            description="The seller the calls are made for: the dial-time check relies only on consent records naming it. Default none: the organization itself."
        ),
    ] = msgspec.UNSET
    call_caps: Annotated[
        list[dict[str, int]] | msgspec.UnsetType,
        msgspec.Meta(
            description='The campaign\'s own per-period call caps, e.g. [{"calls": 7, "days": 7}] (debt collection): at most that many calls to a number in that many days, counted over every campaign and caller ID of the same seller; on top of the organization\'s caps and the states\' 24-hour caps. Default none.'
        ),
    ] = msgspec.UNSET

    amd_settings: Annotated[
        dict[str, Any] | msgspec.UnsetType,
        msgspec.Meta(
            description='Answering-machine detection on the callee\'s audio: {"enabled": true} turns it on; thresholds may be given too, e.g. {"enabled": true, "after_greeting_silence_ms": 900, "max_human_greeting_ms": 3500, "beep": true} (docs/media.md lists them with their ranges). An unknown name or a value out of range is refused naming it. Default {} (off).'
        ),
    ] = msgspec.UNSET

    wrap_up_s: Annotated[
        int | msgspec.UnsetType,
        msgspec.Meta(
            description="Seconds an agent has after a call to give its disposition (5 to 3600, default 30); "
            "then the call gets timeout_disposition and the agent is READY again. Within it the agent may "
            "also correct their disposition; later only a manager can."
        ),
    ] = msgspec.UNSET
    timeout_disposition: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(description="Disposition code given to a call whose wrap-up ran out (default TIMEOUT)."),
    ] = msgspec.UNSET
    pause_codes: Annotated[
        list[str] | msgspec.UnsetType,
        msgspec.Meta(
            description="Reasons agents pick when they pause (default BREAK, LUNCH, TRAINING, MEETING, TECH)."
        ),
    ] = msgspec.UNSET

    agent_callback_window_min: Annotated[
        int | msgspec.UnsetType,
        msgspec.Meta(
            description="Minutes after its time a callback an agent kept for themselves waits for that agent "
            "(1 to 10080, default 60): it is dialed only while they are READY on the campaign, and bridged "
            "to them."
        ),
    ] = msgspec.UNSET
    agent_callback_fallback: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(
            description="What becomes of such a callback once that window passed without its agent: "
            "keep_waiting (default: still only for them) or give_to_anyone (any READY agent takes it)."
        ),
    ] = msgspec.UNSET

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}


class CampaignCreate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str
    org_id: uuid.UUID | None = None  # platform admins only


class CampaignUpdate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


class BlockerOut(msgspec.Struct):
    code: str
    message: str
    fix: str
    hard: bool = False

    @classmethod
    def of(cls, b: Blocker) -> BlockerOut:
        return cls(code=b.code, message=b.message, fix=b.fix, hard=b.hard)


class ReadinessOut(msgspec.Struct):
    """Whether the campaign would dial now, and if not why: each blocker names what is wrong and the fix.
    `hard` blockers make dialing impossible (start answers 409 with them)."""

    ready: bool
    blockers: list[BlockerOut]
    warnings: list[BlockerOut]
    checked_at: datetime

    @classmethod
    def of(cls, r: Readiness) -> ReadinessOut:
        return cls(
            ready=r.ready,
            blockers=[BlockerOut.of(b) for b in r.blockers],
            warnings=[BlockerOut.of(b) for b in r.warnings],
            checked_at=r.checked_at,
        )


class CampaignOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    warnings: list[BlockerOut] = msgspec.field(default_factory=list)  # start: what still stops dialing

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        settings = {name: getattr(c, name) for name in service.SETTABLE}
        settings["safe_harbor_message"] = c.safe_harbor_source or ("uploaded" if c.safe_harbor_wav else "default")
        settings["safe_harbor_sha256"] = c.safe_harbor_sha256
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
    revoke: bool = False  # records the consumer's revocation of the seller's consent


class DispositionOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    label: str
    human_answered: bool
    sale: bool
    dnc: bool
    callback: bool
    final: bool
    revoke: bool

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
            revoke=d.revoke,
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
    id: Annotated[
        int,
        msgspec.Meta(
            description="The lead's public id: opaque, its order and distance to other ids mean nothing."
        ),
    ]
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
            id=public_lead_id(x.id),
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
    # Free text kept with a revocation (a "revoke" disposition): the consumer's words, e.g. "stop calling me".
    note: Annotated[str, msgspec.Meta(max_length=10_000)] = ""


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
    disposition_source: str | None = None  # agent | timeout (the wrap-up ran out) | manager (a correction)
    disposed_by: uuid.UUID | None = None
    disposed_at: datetime | None = None
    # agent (hung up from the agent API) | agent_phone (the agent's phone hung up); null otherwise
    ended_by: str | None = None

    @classmethod
    def of(cls, a: CallAttempt) -> AttemptOut:
        return cls(
            id=a.id,
            lead_id=public_lead_id(a.lead_id),
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
            disposition_source=a.disposition_source,
            disposed_by=a.disposed_by,
            disposed_at=a.disposed_at,
            ended_by=a.ended_by,
        )
