"""Tables of the campaigns package: campaigns and their settings, agents, dispositions, lead lists, leads,
and the call attempts that are the evidence of every call."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, utcnow
from core.legal import ABANDON_LIMIT

JsonDict = dict[str, Any]


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


class DialMethod(enum.StrEnum):
    PREDICTIVE = "predictive"
    PROGRESSIVE = "progressive"
    PREVIEW = "preview"
    MANUAL = "manual"  # the engine never dials on its own: agents dial the numbers they type


class AgentCallbackFallback(enum.StrEnum):
    """What becomes of a callback an agent kept for themselves when its window passes without them."""

    KEEP_WAITING = "keep_waiting"  # still only for that agent, whenever they are READY again
    GIVE_TO_ANYONE = "give_to_anyone"  # any READY agent of the campaign takes it


class CallerIdMode(enum.StrEnum):
    FIXED = "fixed"  # always `caller_id`
    LOCAL_PRESENCE = "local_presence"  # a number of the organization's TN inventory in the lead's area code


class DedupeScope(enum.StrEnum):
    """Against which leads an imported number counts as a duplicate."""

    NONE = "none"
    LIST = "list"
    CAMPAIGN = "campaign"
    ORGANIZATION = "organization"


class ListStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETING = "deleting"  # a purge job is removing it; never leased again


class LeadStatus(enum.StrEnum):
    CALLABLE = "callable"  # may be leased once `next_attempt_at` is due
    BLOCKED = "blocked"  # the compliance engine said no (reasons in `verdict_reasons`)
    IN_PROGRESS = "in_progress"  # leased to a dialer (see lease_holder / lease_expires_at)
    CALLBACK = "callback"  # a scheduled callback at `callback_at`
    DONE = "done"  # final: sale, final disposition, attempts exhausted, invalid number, DNC


class Outcome(enum.StrEnum):
    """How a call attempt ended (the vocabulary shared with the dialer and the abandon report)."""

    BLOCKED = "blocked"
    HUMAN = "human"
    ABANDONED = "abandoned"
    MACHINE = "machine"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    INVALID = "invalid"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


DEFAULT_PAUSE_CODES = ("BREAK", "LUNCH", "TRAINING", "MEETING", "TECH")


class Campaign(OrgScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_campaigns_org_name"),
        CheckConstraint(_one_of("status", CampaignStatus), name="status"),
        CheckConstraint(_one_of("dial_method", DialMethod), name="dial_method"),
        CheckConstraint(_one_of("caller_id_mode", CallerIdMode), name="caller_id_mode"),
        CheckConstraint(_one_of("dedupe_scope", DedupeScope), name="dedupe_scope"),
        CheckConstraint(
            _one_of("agent_callback_fallback", AgentCallbackFallback), name="agent_callback_fallback"
        ),
        CheckConstraint(f"abandon_target > 0 AND abandon_target <= {ABANDON_LIMIT}", name="abandon_target"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    dial_method: Mapped[str] = mapped_column(String(16), default=DialMethod.PREDICTIVE.value)
    # Pacing: the policy name given to dialer.pacing.make_policy, its extra settings, and the limits.
    pacing_policy: Mapped[str] = mapped_column(String(64), default="predictive")
    pacing_settings: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    abandon_target: Mapped[float] = mapped_column(default=0.025)
    max_lines_per_agent: Mapped[float] = mapped_column(default=3.0)
    trunk_profile: Mapped[str] = mapped_column(String(100), default="default")
    max_cps: Mapped[float | None] = mapped_column(default=None)
    max_lines: Mapped[int | None] = mapped_column(default=None)
    caller_id_mode: Mapped[str] = mapped_column(String(16), default=CallerIdMode.FIXED.value)
    caller_id: Mapped[str | None] = mapped_column(String(16), default=None)  # E.164
    # Calling-hours override: may only narrow the law's window (the compliance engine intersects them).
    calling_window_start: Mapped[time | None] = mapped_column(Time, default=None)
    calling_window_end: Mapped[time | None] = mapped_column(Time, default=None)
    allowed_countries: Mapped[list[str]] = mapped_column(JSONB, default=lambda: ["US"])
    blocked_states: Mapped[list[str]] = mapped_column(JSONB, default=list)
    blocked_area_codes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    dedupe_scope: Mapped[str] = mapped_column(String(16), default=DedupeScope.CAMPAIGN.value)
    # {outcome: {"delay_s": int, "max_attempts": int}}; see campaigns.recycle.
    recycle_rules: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    # The seller calls are made for (consent is checked against it); None: the organization itself.
    seller: Mapped[str | None] = mapped_column(String(200), default=None)
    # The campaign's own per-period call caps, [{"calls": N, "days": D}] (dnc.caps), on top of the
    # organization's; counted over the seller's calls across campaigns and caller IDs.
    call_caps: Mapped[list[dict[str, int]]] = mapped_column(JSONB, default=list, server_default="[]")
    safe_harbor_wav: Mapped[str | None] = mapped_column(Text, default=None)
    # The number the safe-harbor message gives for calling back (E.164); with the seller and the opt-out
    # key it makes the generated message. Which message the campaign plays: `uploaded` (recorded, wins),
    # `generated` (spoken by espeak-ng) or None (the shipped default); its sha256 names the kept copy.
    safe_harbor_callback_number: Mapped[str | None] = mapped_column(String(16), default=None)
    safe_harbor_source: Mapped[str | None] = mapped_column(String(16), default=None)
    safe_harbor_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # Answering-machine detection on the audio: {"enabled": bool, thresholds...} (dialer.media.amd)
    amd_settings: Mapped[JsonDict] = mapped_column(JSONB, default=dict, server_default="{}")
    opt_out_key: Mapped[str] = mapped_column(String(1), default="9")
    # Call recording: off | on | announced (dnc.recording_consent decides per call from the called
    # party's state whether it is recorded and whether the announcement plays first).
    recording_mode: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    # Agents: seconds of wrap-up after a call before an undisposed call gets `timeout_disposition` and the
    # agent is READY again; the pause codes agents choose from.
    wrap_up_s: Mapped[int] = mapped_column(Integer, default=30)
    timeout_disposition: Mapped[str] = mapped_column(String(32), default="TIMEOUT")
    pause_codes: Mapped[list[str]] = mapped_column(JSONB, default=lambda: list(DEFAULT_PAUSE_CODES))
    # A callback an agent kept for themselves ("mine") is dialed only when that agent is READY; once its
    # time is `agent_callback_window_min` minutes past without them, `agent_callback_fallback` decides.
    agent_callback_window_min: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    agent_callback_fallback: Mapped[str] = mapped_column(
        String(16), default=AgentCallbackFallback.KEEP_WAITING.value, server_default="keep_waiting"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignAgent(OrgScoped, Base):
    __tablename__ = "campaign_agents"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id", name="uq_campaign_agents_campaign_user"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Disposition(OrgScoped, Base):
    """What an agent says a call was; the flags decide what happens to the lead."""

    __tablename__ = "dispositions"
    __table_args__ = (UniqueConstraint("campaign_id", "code", name="uq_dispositions_campaign_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")
    human_answered: Mapped[bool] = mapped_column(default=True)
    sale: Mapped[bool] = mapped_column(default=False)
    dnc: Mapped[bool] = mapped_column(default=False)
    # The consumer revoked consent (any reasonable means, 47 CFR 64.1200(a)(10)): recorded as a revocation
    # of the campaign's seller's consent, honored at the very next dial-time check.
    revoke: Mapped[bool] = mapped_column(default=False, server_default="false")
    callback: Mapped[bool] = mapped_column(default=False)
    final: Mapped[bool] = mapped_column(default=False)


class LeadList(OrgScoped, Base):
    """One uploaded file's leads. The row is written in the same transaction as its leads, so a list
    that exists is always complete."""

    __tablename__ = "lead_lists"
    __table_args__ = (
        CheckConstraint(_one_of("status", ListStatus), name="status"),
        Index("ix_lead_lists_campaign_sha", "campaign_id", "file_sha256"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=ListStatus.ACTIVE.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str] = mapped_column(String(300), default="")
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    column_mapping: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    counts: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    error_report: Mapped[str | None] = mapped_column(Text, default=None)  # path of the CSV, when any
    import_job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lead(OrgScoped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(_one_of("status", LeadStatus), name="status"),
        # One index for a campaign's numbers (de-duplication, phone search: PostgreSQL 18 skips over the
        # few list ids) and for a list's leads (purge, export): one index fewer to maintain on import.
        Index("ix_leads_campaign_list_e164", "campaign_id", "list_id", "phone_e164"),
        # The hopper's three passes each walk one small partial index in the order it hands leads out.
        Index(
            "ix_leads_hopper_callable",
            "campaign_id",
            text("priority DESC"),
            "id",
            postgresql_where=text("status = 'callable'"),
        ),
        Index(
            "ix_leads_hopper_callback",
            "campaign_id",
            "callback_at",
            postgresql_where=text("status = 'callback'"),
        ),
        Index(
            "ix_leads_hopper_expired",
            "campaign_id",
            "lease_expires_at",
            postgresql_where=text("status = 'in_progress'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign keys and few indexes on purpose: on a 1 M-row import the three foreign-key checks alone
    # cost 15-20 s and each extra index 3-6 s (measured). Lists are removed by the purge job.
    org_id: Mapped[uuid.UUID] = mapped_column()
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    list_id: Mapped[uuid.UUID] = mapped_column()
    row_number: Mapped[int] = mapped_column(Integer)  # line in the uploaded file (header = 1)
    phone_raw: Mapped[str] = mapped_column(Text)
    phone_e164: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str | None] = mapped_column(Text, default=None)
    last_name: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str | None] = mapped_column(String(2), default=None)
    zip_code: Mapped[str | None] = mapped_column(String(10), default=None)
    consent: Mapped[str] = mapped_column(String(20), default="none")
    consent_at: Mapped[date | None] = mapped_column(Date, default=None)
    wireless: Mapped[bool | None] = mapped_column(default=None)
    extra: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.CALLABLE.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # counted attempts (failed ones do not count)
    outcome_counts: Mapped[JsonDict] = mapped_column(JSONB, default=dict)  # {outcome: n}
    last_outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    callback_at: Mapped[datetime | None] = mapped_column(default=None)
    callback_agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # None: any agent
    lease_holder: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    verdict: Mapped[str] = mapped_column(String(16), default="callable")
    verdict_reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    scrubbed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class CallAttempt(OrgScoped, Base):
    """One row per call (or per call not placed because of its verdict): the compliance evidence."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_lead", "lead_id"),
        Index("ix_call_attempts_campaign_placed", "campaign_id", "placed_at"),
        Index("ix_call_attempts_org_e164_placed", "org_id", "e164", "placed_at"),
        Index("ix_call_attempts_org_placed", "org_id", "placed_at"),
        # The daily reports (dialer/reports.py): the calls bridged to an agent, covering the agent
        # performance figures (an index-only scan of a fifth of the rows), and the blocked calls.
        Index(
            "ix_call_attempts_org_placed_agent",
            "org_id",
            "placed_at",
            postgresql_include=[
                "agent_id",
                "campaign_id",
                "disposition",
                "agent_connected_at",
                "ended_at",
                "disposed_at",
            ],
            postgresql_where=text("agent_id IS NOT NULL"),
        ),
        Index(
            "ix_call_attempts_org_placed_blocked",
            "org_id",
            "placed_at",
            postgresql_where=text("outcome = 'blocked'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # No foreign key to leads: the evidence of a call outlives the purge of its lead list.
    lead_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16), default="")  # the number dialed, as dialed
    trunk: Mapped[str] = mapped_column(String(100), default="")
    caller_id: Mapped[str | None] = mapped_column(String(16), default=None)
    attestation: Mapped[str | None] = mapped_column(String(1), default=None)
    attestation_reason: Mapped[str | None] = mapped_column(Text, default=None)
    origid: Mapped[str | None] = mapped_column(String(64), default=None)
    identity_header_present: Mapped[bool] = mapped_column(default=False)
    sip_call_id: Mapped[str | None] = mapped_column(String(255), default=None)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    ringing_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_connected_at: Mapped[datetime | None] = mapped_column(default=None)
    safe_harbor_at: Mapped[datetime | None] = mapped_column(default=None)  # the message was started
    # When the worker finished playing it (its clock): minus the WAV's length, when it really started.
    safe_harbor_played_at: Mapped[datetime | None] = mapped_column(default=None)
    safe_harbor_error: Mapped[str | None] = mapped_column(Text, default=None)  # refused: the call was hung up
    # Which message was played: the sha256 of its kept copy (SafeHarborMessageCopy).
    safe_harbor_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    dtmf_digits: Mapped[str | None] = mapped_column(String(32), default=None)  # keys pressed, in order
    # Answering-machine detection on the audio (dialer.media.amd): human / machine / notsure, why, the
    # audio time it decided at (ms from the answer), and when the callee's greeting ended (the instant
    # the 2-second rule counts from when detection ran).
    amd_result: Mapped[str | None] = mapped_column(String(8), default=None)
    amd_cause: Mapped[str | None] = mapped_column(String(64), default=None)
    amd_decided_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    amd_greeting_ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # The voicemail message left on a machine: its kept copy's sha256, and when it finished playing.
    voicemail_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    voicemail_left_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    sip_status: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.IN_PROGRESS.value)
    # Who ended an answered call when it was not the callee or the dialer's own rules: `agent` (hung up
    # from the agent API) or `agent_phone` (the agent's phone hung up, so the customer's call was ended).
    ended_by: Mapped[str | None] = mapped_column(String(16), default=None)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    disposition: Mapped[str | None] = mapped_column(String(32), default=None)
    # Who set the disposition: agent, timeout (the campaign's timeout_disposition) or manager (a correction).
    disposition_source: Mapped[str | None] = mapped_column(String(16), default=None)
    disposed_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    disposed_at: Mapped[datetime | None] = mapped_column(default=None)
    verdict_reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # The dial-time verdict as the check returned it (campaigns.evidence.AttemptEvidence); never re-derived.
    evidence: Mapped[JsonDict | None] = mapped_column(JSONB, default=None)
    worker: Mapped[str] = mapped_column(String(200), default="")


class PreviewSkip(OrgScoped, Base):
    """An agent skipped a lead offered in preview (`campaigns.agent_dials.skip_offered_lead`): who, when,
    why. No call was placed, so this is not a call attempt; the lead's next step follows the reason."""

    __tablename__ = "campaign_preview_skips"
    __table_args__ = (Index("ix_campaign_preview_skips_lead", "lead_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lead_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    skipped_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafeHarborMessageCopy(OrgScoped, Base):
    """A kept copy of each unique safe-harbor message a campaign played (the 2024 TSR record-keeping
    rule): content-addressed by the sha256 of the WAV, with its words when generated."""

    __tablename__ = "safe_harbor_messages"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_safe_harbor_messages_org_sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # generated | uploaded | default
    text: Mapped[str | None] = mapped_column(Text, default=None)  # the words, when generated
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(default=0.0)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # the campaign it was first made for
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingStatus(enum.StrEnum):
    RECORDED = "recorded"  # the encrypted file is in the file store (file_key)
    NOT_RECORDED = "not_recorded"  # the campaign records, but this call could not be (reason says why)
    FAILED = "failed"  # recording was due and did not happen or was not stored (reason says why)
    EXPIRED = "expired"  # removed by the retention job; the row stays with the attempt's evidence
    DELETED = "deleted"  # removed on the called person's deletion request (campaigns.privacy)


class CallRecording(OrgScoped, Base):
    """The recording of one attempt's bridged conversation (both sides, mixed, 8 kHz WAV), encrypted at
    rest per organization (campaigns.recordings); one row per attempt the campaign meant to record."""

    __tablename__ = "call_recordings"
    __table_args__ = (Index("ix_call_recordings_org_created", "org_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), unique=True
    )
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    announced: Mapped[bool] = mapped_column(default=False)
    file_key: Mapped[str | None] = mapped_column(Text, default=None)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)  # of the WAV, before encryption
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # of the WAV, before encryption
    seconds: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
