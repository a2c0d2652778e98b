"""Campaign runs: what the engine holds for each active campaign it dials (settings, trunk profile,
pacing policy under the abandon guard, the abandon budget seeded from the last 30 days, the dial-time
compliance), and the `campaign_cannot_run` alarm raised when an active campaign cannot run."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Campaign, CampaignStatus, Outcome
from core.db import ALL_ORGS, Database
from core.errors import ClearlineError
from core.runtime import current_runtime
from dialer import pacing
from dialer.campaign_settings import build_policy
from dialer.engine.compliance import DialTimeCompliance
from dialer.engine.floor import FloorCampaign
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.media.amd import campaign_amd, voicemail_drop
from dialer.media.safe_harbor import DEFAULT_SHA256, local_wav
from dialer.models import CAMPAIGN_CANNOT_RUN, TrunkAlarm
from dialer.sip.profiles import TrunkProfile, load_profile

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CampaignRun(FloorCampaign):
    org_id: uuid.UUID
    name: str
    profile: TrunkProfile
    caller_id_mode: str
    caller_id: str | None
    max_lines_per_agent: float
    compliance: DialTimeCompliance
    agent_cursor: str
    active: bool = True
    updated_at: datetime | None = None  # the campaign's settings as of this version
    cannot_run: bool = False  # its latest settings cannot run (alarm raised): not dialing
    pacing_key: tuple[object, ...] = ()  # the settings its pacing policy was built from
    dial_method: str = "predictive"  # who decides to dial: the engine, or its agents (agent_dials.py)
    recording_mode: str = "off"  # off | on | announced (dnc.recording_consent; dialer/engine/recordings.py)


def active_campaigns(db: Database, only: frozenset[uuid.UUID] | None) -> dict[uuid.UUID, Campaign]:
    with db.session(ALL_ORGS) as s:
        query = select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE.value)
        if only is not None:
            query = query.where(Campaign.id.in_(only))
        return {c.id: c for c in s.scalars(query)}


def campaign_run(
    db: Database, campaign: Campaign, *, agent_cursor: str, profiles_dir: Path | None
) -> CampaignRun:
    """A campaign as the engine runs it (raises, naming the rule, when it cannot)."""
    profile = load_profile(campaign.trunk_profile, profiles_dir)
    budget = pacing.AbandonBudget()
    budget.seed(abandon_history(db, campaign.id))
    policy = build_policy(campaign, budget, profile.effective_ring_timeout(profile.ring_timeout_s))
    amd_on, amd_settings = campaign_amd(campaign.amd_settings or {})
    safe_harbor_sha256 = campaign.safe_harbor_sha256 if campaign.safe_harbor_wav else DEFAULT_SHA256
    safe_harbor_wav = str(DEFAULT_SAFE_HARBOR_WAV)
    if campaign.safe_harbor_wav:  # kept in the shared store: played from this host's cached copy
        runtime = current_runtime()
        safe_harbor_wav = str(
            local_wav(
                runtime.files, runtime.settings.home, campaign.safe_harbor_wav, safe_harbor_sha256 or ""
            )
        )
    # The voicemail message is the campaign's safe-harbor message (it names the seller and the callback
    # number), kept by sha256 the same way.
    leaves_message = voicemail_drop(campaign.amd_settings or {})
    if leaves_message and not campaign.safe_harbor_wav:
        raise ClearlineError(
            "amd_settings.voicemail_drop: the campaign has no message of its own to leave on machines "
            "(give it a safe_harbor_callback_number to generate one, or upload a recording)"
        )
    return CampaignRun(
        id=campaign.id,
        org_id=campaign.org_id,
        name=campaign.name,
        profile=profile,
        caller_id_mode=campaign.caller_id_mode,
        caller_id=campaign.caller_id,
        safe_harbor_wav=safe_harbor_wav,
        safe_harbor_sha256=safe_harbor_sha256,
        amd_settings=dataclasses.asdict(amd_settings) if amd_on else None,
        voicemail_wav=safe_harbor_wav if leaves_message else "",
        voicemail_sha256=safe_harbor_sha256 if leaves_message else None,
        opt_out_key=campaign.opt_out_key,
        max_lines_per_agent=campaign.max_lines_per_agent,
        wrap_up_s=campaign.wrap_up_s,
        policy=policy,
        budget=budget,
        compliance=DialTimeCompliance(db, campaign),
        agent_cursor=agent_cursor,
        updated_at=campaign.updated_at,
        pacing_key=pacing_key(campaign),
        dial_method=campaign.dial_method,
        recording_mode=campaign.recording_mode,
    )


def pacing_key(campaign: Campaign) -> tuple[object, ...]:
    return (
        campaign.pacing_policy,
        repr(sorted((campaign.pacing_settings or {}).items())),
        campaign.abandon_target,
        campaign.max_lines,
        campaign.max_cps,
        campaign.dial_method,
    )


def changed_run(
    db: Database, run: CampaignRun, campaign: Campaign, *, profiles_dir: Path | None
) -> CampaignRun:
    """The running campaign with its changed settings (rules, window, trunk, caller ID, message,
    pacing), to take effect at its next dial. Keeps what the run has learned: its abandon budget, live
    counters, agent cursor; a new pacing policy is built (over the same budget) only if pacing changed,
    and the caller replays the calls in flight into it. Raises, naming the rule, when it cannot run."""
    fresh = campaign_run(db, campaign, agent_cursor=run.agent_cursor, profiles_dir=profiles_dir)
    fresh.budget = run.budget
    if fresh.pacing_key == run.pacing_key:
        fresh.policy = run.policy
    else:
        fresh.policy = build_policy(
            campaign, run.budget, fresh.profile.effective_ring_timeout(fresh.profile.ring_timeout_s)
        )
    fresh.stats = run.stats
    fresh.answer_to_agent_ms = run.answer_to_agent_ms
    return fresh


def abandon_history(db: Database, campaign_id: uuid.UUID) -> list[tuple[float, int, int]]:
    """The rolling 30-day record of this campaign: one row per answered call (human or abandoned)."""
    since = datetime.now(UTC).timestamp() - pacing.budget.THIRTY_DAYS_S
    with db.session(ALL_ORGS) as s:
        rows = s.execute(
            select(CallAttempt.answered_at, CallAttempt.outcome).where(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.outcome.in_([Outcome.HUMAN.value, Outcome.ABANDONED.value]),
                CallAttempt.answered_at >= datetime.fromtimestamp(since, UTC),
            )
        ).all()
    return [(at.timestamp(), 1, int(outcome == Outcome.ABANDONED.value)) for at, outcome in rows if at]


class CannotRunAlarms:
    """Why an active campaign cannot run, recorded once as an open alarm (GET /api/dialer/alarms, the
    campaign's readiness); retried every refresh, cleared when it runs or stops being active."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reasons: dict[uuid.UUID, str] = {}

    def raise_for(self, campaign: Campaign, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, ClearlineError) else f"{type(exc).__name__}: {exc}"
        if self.reasons.get(campaign.id) == reason:
            return
        if isinstance(exc, ClearlineError):
            log.warning("campaign %s (%s) cannot run: %s", campaign.name, campaign.id, reason)
        else:
            log.exception("campaign %s (%s) cannot run", campaign.name, campaign.id)
        self.reasons[campaign.id] = reason
        now = datetime.now(UTC)
        with self.db.session(ALL_ORGS) as s:
            self._clear(s, campaign.id, now)
            s.add(
                TrunkAlarm(
                    org_id=campaign.org_id,
                    trunk=campaign.trunk_profile[:100],
                    campaign_id=campaign.id,
                    kind=CAMPAIGN_CANNOT_RUN,
                    reason=reason[:2000],
                    raised_at=now,
                )
            )

    def clear(self, campaign_id: uuid.UUID) -> None:
        if self.reasons.pop(campaign_id, None) is None:
            return
        with self.db.session(ALL_ORGS) as s:
            self._clear(s, campaign_id, datetime.now(UTC))

    def clear_all_but(self, active: set[uuid.UUID]) -> None:
        """Campaigns paused or finished are no longer the engine's problem."""
        for campaign_id in set(self.reasons) - active:
            self.clear(campaign_id)

    @staticmethod
    def _clear(s: Session, campaign_id: uuid.UUID, now: datetime) -> None:
        s.execute(
            update(TrunkAlarm)
            .where(
                TrunkAlarm.campaign_id == campaign_id,
                TrunkAlarm.kind == CAMPAIGN_CANNOT_RUN,
                TrunkAlarm.cleared_at.is_(None),
            )
            .values(cleared_at=now)
        )
