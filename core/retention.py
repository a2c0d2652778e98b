"""How long Clearline keeps each kind of data, and why: the one place that says so.

`RULES` is read by the daily retention job (`clearline/retention.py`), by `docs/privacy.md` (which
must list the same periods: `tests/test_retention.py` checks) and by nothing else. Periods are in days,
from the moment named by `starts`. A rule with `per_org` may be changed by an organization within
`min_days` .. `max_days` (`Organization.settings["retention_days"][kind]`); the others are fixed
because a law sets them.

The pure decision is `cutoff(rule, org_settings, now)`: rows whose `starts` moment is before it go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.errors import ValidationError

DAY = timedelta(days=1)
MONTHS_12 = 365
MONTHS_24 = 730
YEARS_5 = 1827  # five years, leap days included

PRIVACY_EXPORT_DAYS = 30
STORED_UPLOAD_DAYS = 2  # an upload waits minutes for its job; two days outlast a weekend-night outage

TSR = "16 CFR 310.5 (Telemarketing Sales Rule, as amended in 2024): records kept 5 years"


@dataclass(frozen=True)
class RetentionRule:
    kind: str
    what: str  # in words, for the report and docs/privacy.md
    starts: str  # the moment the period runs from
    days: int | None  # None: kept until someone deletes it (or an organization sets a maximum)
    reason: str
    per_org: bool = False
    min_days: int = 1
    max_days: int | None = None


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        "call_records",
        "call attempts: when, from which caller ID, to which number, outcome, disposition, agent, and the "
        "compliance evidence of the decision to dial",
        "the call",
        YEARS_5,
        TSR + " (call detail records, 310.5(a)(2)); also the proof that each call was lawful",
    ),
    RetentionRule(
        "consent_records",
        "consent records once revoked (consent in force is kept while it is in force)",
        "the revocation",
        YEARS_5,
        TSR + " (express consent records, 310.5(a)(5))",
    ),
    RetentionRule(
        "audit_compliance",
        "audit log rows of compliance actions: DNC lists and entries, consent, campaign settings, "
        "dispositions, numbers and certificates",
        "the action",
        YEARS_5,
        "the TSR period, so every compliance decision stays explainable as long as its call records",
    ),
    RetentionRule(
        "audit_log",
        "every other audit log row: logins, user and organization changes, CLI commands, jobs",
        "the action",
        MONTHS_24,
        "account and usage logs are kept 24 months for security reviews and customer audits",
    ),
    RetentionRule(
        "sessions",
        "login sessions (when, from which address) after they ended",
        "the end of the session",
        MONTHS_24,
        "usage logs: 24 months, as the audit log",
    ),
    RetentionRule(
        "jobs",
        "finished jobs (imports, purges, reports): who started them, their counts and errors",
        "the end of the job",
        MONTHS_24,
        "usage logs: 24 months, as the audit log",
    ),
    RetentionRule(
        "alarms",
        "cleared dialer alarms",
        "the clearing",
        MONTHS_24,
        "operations history: 24 months, as the audit log",
    ),
    RetentionRule(
        "recordings",
        "call recordings (the encrypted audio; the row saying the call was recorded stays with the attempt)",
        "the call",
        MONTHS_12,
        "recordings hold the most personal data; 12 months by default, as customers expect",
        per_org=True,
        min_days=1,
        max_days=YEARS_5,
    ),
    RetentionRule(
        "lead_lists",
        "lead lists and their leads (names, numbers, the list's own fields)",
        "the import",
        None,
        "the campaign owner's data: kept until they delete it, or for at most the organization's maximum",
        per_org=True,
        min_days=1,
        max_days=None,
    ),
)

RULES += (
    RetentionRule(
        "privacy_requests",
        "requests of a person over their data (access, deletion, correction): when received and due, "
        "who filed them, and the evidence of what was deleted, kept and under which rule",
        "the completion of the request",
        MONTHS_24,
        "records of consumer requests and how they were answered are kept 24 months (California CCPA "
        "regulations, 11 CCR 7101); they prove each request was honored",
    ),
    RetentionRule(
        "privacy_exports",
        "the access export of a request (a copy of everything held about the person)",
        "the completion of the request",
        PRIVACY_EXPORT_DAYS,
        "a copy of personal data made only to be handed to the person: removed once they had time to "
        "download it",
    ),
)

RULES += (
    RetentionRule(
        "stored_uploads",
        "uploaded files waiting in the shared file store for their job (lead, DNC and scrub uploads, the "
        "console's staged lead files) whose job never ran: it crashed before being queued, was cancelled, "
        "or the preview was abandoned; a file a queued or running job still names is kept",
        "the upload",
        STORED_UPLOAD_DAYS,
        "a copy of the customer's file that no job will read: removed once it is clearly abandoned",
    ),
)

BY_KIND = {rule.kind: rule for rule in RULES}

# Audit actions kept for the TSR period (rule audit_compliance); everything else follows audit_log.
COMPLIANCE_ACTIONS = (
    "dnc.", "consent.", "campaign.", "disposition.", "tn_range.", "certificate.", "cli.dnc.",
    "cli.certs.", "POST /api/dnc", "PUT /api/dnc", "DELETE /api/dnc", "POST /api/consent",
    "POST /api/call-attempts",
)  # fmt: skip

SETTINGS_KEY = "retention_days"


def days_for(rule: RetentionRule, org_settings: dict[str, Any] | None) -> int | None:
    """The period that applies: the organization's own for `per_org` rules, else the rule's."""
    if rule.per_org:
        chosen = ((org_settings or {}).get(SETTINGS_KEY) or {}).get(rule.kind)
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            return chosen
    return rule.days


def cutoff(rule: RetentionRule, org_settings: dict[str, Any] | None, now: datetime) -> datetime | None:
    """Rows whose period started before this moment are removed; None: kept."""
    days = days_for(rule, org_settings)
    return None if days is None else now - days * DAY


def validate_org_periods(periods: dict[str, int | None]) -> dict[str, int | None]:
    """An organization's own periods: only for `per_org` rules, within their bounds; None resets."""
    for kind, days in periods.items():
        rule = BY_KIND.get(kind)
        if rule is None or not rule.per_org:
            allowed = ", ".join(r.kind for r in RULES if r.per_org)
            raise ValidationError(f"{kind!r} has a fixed retention period; an organization sets {allowed}",
                                  field=kind)  # fmt: skip
        if days is None:
            continue
        if days < rule.min_days or (rule.max_days is not None and days > rule.max_days):
            top = f"{rule.max_days}" if rule.max_days is not None else "no limit"
            raise ValidationError(
                f"{kind} retention {days} days is outside {rule.min_days} .. {top}", field=kind
            )
    return periods
