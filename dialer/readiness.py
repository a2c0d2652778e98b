"""Why is my campaign not dialing? Readiness is a pure function (`assess`) of facts gathered once
(`gather_facts`, the I/O): the trunk profile and whether its proxy answers OPTIONS, the signing
certificate, the national registry copy, agents, callable leads and their calling windows, the abandon
budget, and whether the engine runs the campaign. Each problem is a `Blocker` with a code, a message with
the values involved and a fix; `hard` ones make dialing impossible and refuse `start`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attestation.models import SigningCertificate
from campaigns.models import CallAttempt, Campaign, CampaignAgent, CampaignStatus, Lead, LeadStatus, Outcome
from core.db import Database, Scope
from core.errors import ConflictError
from dialer.engine.agents import AgentBoard, AgentState
from dialer.engine.compliance import DialTimeCompliance
from dialer.engine.live import engine_running
from dialer.models import CAMPAIGN_CANNOT_RUN, TrunkAlarm
from dialer.pacing.budget import THIRTY_DAYS_S
from dialer.sip.options_probe import ProbeResult, cached_probe
from dialer.sip.profiles import ProfileError, TrunkProfile, load_profile
from dnc import reasons
from dnc.engine import REGISTRY_MAX_AGE
from dnc.freshness import ListCopy, StaleList, stale_lists
from dnc.lists import list_versions

LEAD_SAMPLE = 200  # leads whose verdict is taken now to see whether any is inside its calling window
WINDOW_STEP = timedelta(minutes=15)
WINDOW_HORIZON = timedelta(days=4)
# Reasons that only say "not now" (calling hours and day rules): a lead blocked only by these will open.
WINDOW_REASONS = frozenset(
    {
        reasons.OUTSIDE_FEDERAL_WINDOW,
        reasons.OUTSIDE_STATE_WINDOW,
        reasons.OUTSIDE_CAMPAIGN_WINDOW,
        reasons.STATE_NO_SUNDAY,
        reasons.STATE_NO_HOLIDAY,
    }
)
WORKING_STATES = frozenset({AgentState.READY, AgentState.INCALL, AgentState.WRAP, AgentState.PAUSED})


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str
    fix: str
    hard: bool = False  # dialing is impossible: `start` is refused


@dataclass(frozen=True)
class Readiness:
    ready: bool
    blockers: tuple[Blocker, ...]  # every reason the campaign would not dial right now
    warnings: tuple[Blocker, ...]  # dialing works, but something needs a look
    checked_at: datetime

    @property
    def hard_blockers(self) -> tuple[Blocker, ...]:
        return tuple(b for b in self.blockers if b.hard)


@dataclass(frozen=True)
class CertificateFacts:
    label: str
    not_after: datetime


@dataclass(frozen=True)
class LeadFacts:
    callable_left: int  # leads that may still be called (callable or scheduled callbacks)
    due_now: int  # of those, due now
    next_due_at: datetime | None
    sample_callable_now: int  # of a sample of due leads, how many the verdict allows now
    sample_blocked_by_window: int  # of the sample, how many wait only for their calling window
    sample_size: int
    first_window_opens_at: datetime | None


@dataclass(frozen=True)
class ReadinessFacts:
    campaign_id: uuid.UUID
    status: str
    trunk_profile: str
    profile: TrunkProfile | None
    profile_error: str
    trunk_probe: ProbeResult | None
    certificate: CertificateFacts | None  # the organization's active signing certificate
    registry_obtained_at: datetime | None  # newest national registry copy visible to the organization
    agents_assigned: int
    agents_working: int  # logged in (ready, on a call, wrapping up or paused)
    agents_ready: int
    leads: LeadFacts
    human_answered_30d: int
    abandoned_30d: int
    abandon_target: float
    engine_running: bool
    engine_alarm: str = ""  # why the engine says it cannot run the campaign
    list_copies: tuple[ListCopy, ...] = ()  # the current copies of the organization's other lists
    extra: dict[str, str] = field(default_factory=dict)


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


_STALE_EFFECT = {
    "state": "calls to that state's leads are refused (fail closed)",
    "litigator": "every call is refused (fail closed)",
    "reassigned": "calls relying on consent are refused: no safe harbor from old data (fail closed)",
}


def _stale_list_blocker(stale: StaleList) -> Blocker:
    copy = stale.copy
    option = f" --state {copy.scope}" if copy.kind == "state" and copy.scope else ""
    return Blocker(
        f"{copy.kind}_list_stale",
        f"{stale.describe()}: {_STALE_EFFECT[copy.kind]}",
        f"import a fresh copy: clearline dnc import --kind {copy.kind}{option} FILE",
        copy.kind == "litigator",  # a stale litigator list stops every call; the others only some
    )


def assess(facts: ReadinessFacts, now: datetime) -> Readiness:
    """The campaign's blockers and warnings, from the facts alone."""
    blockers: list[Blocker] = []
    warnings: list[Blocker] = []
    if facts.status == CampaignStatus.FINISHED.value:
        blockers.append(
            Blocker("campaign_finished", "the campaign is finished", "create a new campaign", True)
        )
    elif facts.status != CampaignStatus.ACTIVE.value:
        blockers.append(
            Blocker("campaign_not_active", f"the campaign is {facts.status}", "start it: POST .../start")
        )
    profile = facts.profile
    if profile is None:
        blockers.append(
            Blocker(
                "trunk_profile_unknown",
                f"trunk profile {facts.trunk_profile} cannot be used: {facts.profile_error}",
                "set trunk_profile to a profile in sip_profiles/ (copy generic-template.toml for a carrier)",
                True,
            )
        )
    else:
        if facts.trunk_probe is not None and not facts.trunk_probe.reachable:
            blockers.append(
                Blocker(
                    "trunk_unreachable",
                    f"trunk profile {profile.name}: {facts.trunk_probe.detail}",
                    f"check that the carrier's proxy {profile.proxy} is up and allows this host "
                    "(for the simulator: python -m dialer.simulators.carrier)",
                )
            )
        if profile.stir_shaken:
            cert = facts.certificate
            if cert is None:
                blockers.append(
                    Blocker(
                        "certificate_missing",
                        f"trunk profile {profile.name} signs calls (STIR/SHAKEN) but the organization has no "
                        "active signing certificate",
                        "upload one (POST /api/attestation/certificates) and activate it",
                        True,
                    )
                )
            elif cert.not_after <= now:
                blockers.append(
                    Blocker(
                        "certificate_expired",
                        f"the active signing certificate {cert.label} expired at {_fmt(cert.not_after)}",
                        "upload a renewed certificate and activate it",
                        True,
                    )
                )
            elif profile.certificate and cert.label != profile.certificate:
                warnings.append(
                    Blocker(
                        "certificate_label_mismatch",
                        f"trunk profile {profile.name} names certificate {profile.certificate}; calls are "
                        f"signed with the active certificate {cert.label}",
                        "rename the certificate label or set stir_shaken.certificate in the profile",
                    )
                )
    if facts.registry_obtained_at is None:
        blockers.append(
            Blocker(
                "registry_missing",
                "no national DNC registry copy has been imported: every call is refused (fail closed)",
                "import one: clearline dnc import --kind national FILE",
                True,
            )
        )
    elif now - facts.registry_obtained_at > REGISTRY_MAX_AGE:
        age = (now - facts.registry_obtained_at).days
        blockers.append(
            Blocker(
                "registry_stale",
                f"the national DNC registry copy was obtained {_fmt(facts.registry_obtained_at)}, {age} days "
                f"ago: older than {REGISTRY_MAX_AGE.days} days, every call is refused (fail closed)",
                "import a fresh copy: clearline dnc import --kind national FILE",
                True,
            )
        )
    for stale in stale_lists(facts.list_copies, now, kinds=("state", "litigator", "reassigned")):
        blockers.append(_stale_list_blocker(stale))
    if facts.agents_assigned == 0:
        blockers.append(
            Blocker(
                "no_agents_assigned",
                "no agent is assigned to the campaign",
                "assign agents: PUT /api/campaigns/{id}/agents",
            )
        )
    elif facts.agents_working == 0:
        blockers.append(
            Blocker(
                "no_agents_logged_in",
                f"none of the {facts.agents_assigned} assigned agents is logged in",
                "agents log in with their phone: POST /api/agents/me/session",
            )
        )
    leads = facts.leads
    if leads.callable_left == 0:
        blockers.append(
            Blocker("no_callable_leads", "the campaign has no callable leads left", "upload a lead list")
        )
    elif leads.due_now == 0 and leads.next_due_at is not None:
        blockers.append(
            Blocker(
                "no_leads_due",
                f"{leads.callable_left} leads wait for their retry time; the first is due at "
                f"{_fmt(leads.next_due_at)}",
                "wait, or upload more leads (retry delays are the campaign's recycle_rules)",
            )
        )
    elif leads.sample_size and leads.sample_callable_now == 0 and leads.sample_blocked_by_window:
        opens = leads.first_window_opens_at
        when = f"the first opens at about {_fmt(opens)}" if opens else "none opens in the next 4 days"
        blockers.append(
            Blocker(
                "outside_calling_window",
                f"every lead checked ({leads.sample_size}) is outside its calling window now; {when}",
                "wait for the window (the law's hours in the lead's time zones, narrowed by the "
                "campaign's calling_window), or widen the campaign's calling_window",
            )
        )
    if facts.human_answered_30d and facts.abandoned_30d >= facts.abandon_target * facts.human_answered_30d:
        rate = facts.abandoned_30d / facts.human_answered_30d
        blockers.append(
            Blocker(
                "abandon_budget_exhausted",
                f"{facts.abandoned_30d} of {facts.human_answered_30d} person-answered calls in the last 30 days "
                f"were abandoned ({rate:.2%}), at or over the campaign's target {facts.abandon_target:.2%}",
                "pacing places no call it could drop until the rate falls; add agents or lower the dial level",
            )
        )
    if not facts.engine_running:
        blockers.append(
            Blocker(
                "engine_not_running",
                "no dialer engine is running",
                "start it: clearline up (or clearline dialer)",
            )
        )
    elif facts.engine_alarm:
        blockers.append(
            Blocker(
                "engine_cannot_run",
                f"the engine cannot run the campaign: {facts.engine_alarm}",
                "fix the cause; the engine retries every 2 s (see GET /api/dialer/alarms)",
            )
        )
    return Readiness(not blockers, tuple(blockers), tuple(warnings), now)


# ------------------------------------------------------------------------------------------ gathering


def _lead_facts(db: Database, session: Session, campaign: Campaign, now: datetime) -> LeadFacts:
    waiting = Lead.status.in_([LeadStatus.CALLABLE.value, LeadStatus.CALLBACK.value])
    ours = (Lead.campaign_id == campaign.id) & waiting
    callable_left, next_due = session.execute(
        select(func.count(), func.min(Lead.next_attempt_at)).where(ours)
    ).one()
    due = ours & (Lead.next_attempt_at.is_(None) | (Lead.next_attempt_at <= now))
    due_now = session.scalar(
        select(func.count()).select_from(select(Lead.id).where(due).limit(100_000).subquery())
    )
    sample = list(
        session.scalars(select(Lead).where(due).order_by(Lead.priority.desc(), Lead.id).limit(LEAD_SAMPLE))
    )
    callable_now = blocked_by_window = 0
    opens: datetime | None = None
    if sample:
        compliance = DialTimeCompliance(db, campaign)
        verdicts = compliance.check_stored(sample, now)
        callable_now = sum(1 for v in verdicts if v.callable)
        waiting_window = [
            lead
            for lead, v in zip(sample, verdicts, strict=True)
            if v.reasons and set(v.reasons) <= WINDOW_REASONS
        ]
        blocked_by_window = len(waiting_window)
        if not callable_now and waiting_window:
            at = now
            while at < now + WINDOW_HORIZON and opens is None:
                at += WINDOW_STEP
                if any(v.callable for v in compliance.check_stored(waiting_window, at)):
                    opens = at
    return LeadFacts(
        callable_left=int(callable_left or 0),
        due_now=int(due_now or 0),
        next_due_at=next_due if not due_now else None,
        sample_callable_now=callable_now,
        sample_blocked_by_window=blocked_by_window,
        sample_size=len(sample),
        first_window_opens_at=opens,
    )


def gather_facts(
    db: Database,
    client: redis.Redis,
    campaign_id: uuid.UUID,
    scope: Scope,
    now: datetime,
    *,
    profiles_dir: Path | None = None,
    probe: Callable[[str, str], ProbeResult] | None = cached_probe,
) -> ReadinessFacts:
    """Everything `assess` needs about one campaign, read through the caller's scope (so another
    organization's campaign is not found). `probe=None` skips the OPTIONS probe."""
    from campaigns.service import get_campaign

    with db.session(scope) as s:
        campaign = get_campaign(s, campaign_id)
        org_id = campaign.org_id
        profile: TrunkProfile | None = None
        profile_error = ""
        try:
            profile = load_profile(campaign.trunk_profile, profiles_dir)
        except ProfileError as exc:
            profile_error = str(exc)
        cert_row = s.execute(
            select(SigningCertificate.label, SigningCertificate.not_after).where(
                SigningCertificate.org_id == org_id, SigningCertificate.active
            )
        ).first()
        assigned = list(
            s.scalars(select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign.id))
        )
        since = now - timedelta(seconds=THIRTY_DAYS_S)
        human, abandoned = s.execute(
            select(
                func.count().filter(CallAttempt.outcome.in_([Outcome.HUMAN.value, Outcome.ABANDONED.value])),
                func.count().filter(CallAttempt.outcome == Outcome.ABANDONED.value),
            ).where(CallAttempt.campaign_id == campaign.id, CallAttempt.placed_at >= since)
        ).one()
        alarm = s.scalar(
            select(TrunkAlarm.reason)
            .where(
                TrunkAlarm.campaign_id == campaign.id,
                TrunkAlarm.kind == CAMPAIGN_CANNOT_RUN,
                TrunkAlarm.cleared_at.is_(None),
            )
            .order_by(TrunkAlarm.raised_at.desc())
            .limit(1)
        )
        leads = _lead_facts(db, s, campaign, now)
        facts_campaign = (campaign.status, campaign.trunk_profile, campaign.abandon_target)
    versions = list_versions(db, org_id)
    registry = [
        v.obtained_at
        for lst, v in versions
        if lst.kind == "national" and v is not None and v.obtained_at <= now
    ]
    copies = tuple(
        ListCopy(lst.kind, lst.scope, str(lst.id), v.obtained_at) for lst, v in versions if v is not None
    )
    agents = AgentBoard(client).campaign_agents(str(campaign_id))
    trunk_probe = (
        probe(profile.proxy, profile.transport) if profile is not None and probe is not None else None
    )
    return ReadinessFacts(
        campaign_id=campaign_id,
        status=facts_campaign[0],
        trunk_profile=facts_campaign[1],
        profile=profile,
        profile_error=profile_error,
        trunk_probe=trunk_probe,
        certificate=CertificateFacts(cert_row[0], cert_row[1]) if cert_row else None,
        registry_obtained_at=max(registry) if registry else None,
        agents_assigned=len(assigned),
        agents_working=sum(1 for a in agents if a.state in WORKING_STATES),
        agents_ready=sum(1 for a in agents if a.state is AgentState.READY),
        leads=leads,
        human_answered_30d=int(human),
        abandoned_30d=int(abandoned),
        abandon_target=facts_campaign[2],
        engine_running=engine_running(client),
        list_copies=copies,
        engine_alarm=alarm or "",
    )


def campaign_readiness(
    db: Database,
    client: redis.Redis,
    campaign_id: uuid.UUID,
    scope: Scope,
    now: datetime,
    *,
    profiles_dir: Path | None = None,
    probe: Callable[[str, str], ProbeResult] | None = cached_probe,
) -> Readiness:
    facts = gather_facts(db, client, campaign_id, scope, now, profiles_dir=profiles_dir, probe=probe)
    return assess(facts, now)


def start_campaign(
    db: Database,
    client: redis.Redis,
    campaign_id: uuid.UUID,
    scope: Scope,
    now: datetime,
    *,
    profiles_dir: Path | None = None,
    probe: Callable[[str, str], ProbeResult] | None = cached_probe,
) -> tuple[Campaign, Readiness]:
    """Start (activate) a campaign unless a hard blocker makes dialing impossible (ConflictError listing
    them, `.blockers`); returns the campaign and its readiness, whose soft blockers are the warnings."""
    from campaigns.service import get_campaign, set_status

    readiness = campaign_readiness(
        db, client, campaign_id, scope, now, profiles_dir=profiles_dir, probe=probe
    )
    hard = [b for b in readiness.hard_blockers if b.code != "campaign_not_active"]
    if hard:
        raise NotReadyError(hard)
    with db.session(scope) as s:
        campaign = get_campaign(s, campaign_id)
        set_status(campaign, CampaignStatus.ACTIVE)
        s.flush()
        s.expunge(campaign)
    return campaign, readiness


class NotReadyError(ConflictError):
    """A campaign cannot start: its hard blockers, each with code, message and fix."""

    def __init__(self, blockers: Sequence[Blocker]) -> None:
        super().__init__("the campaign cannot dial: " + "; ".join(b.message for b in blockers))
        self.blockers = tuple(blockers)

    @property
    def problem_fields(self) -> dict[str, object]:
        return {"blockers": [{"code": b.code, "message": b.message, "fix": b.fix} for b in self.blockers]}
