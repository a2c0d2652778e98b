"""Compliance staff pages: "why was this number dialed or not" (every attempt to a number across the
organization's campaigns with the evidence stored when its verdict was taken), the geo / IP policy editor
and the call-detail records download. The DNC pages are `dnc_lists.py` and `dnc_internal.py`, the scrub
page `dnc_scrub.py`, the audit log `audit.py`; they share this section and its tabs.

Every handler calls the service the API route calls: `campaigns.evidence.evidence_for_phone`
(`GET /api/compliance/evidence`), `dnc.policy.read_policy` / `update_policy` (`GET` / `PATCH
/api/dnc/policy`), `campaigns.cdr.cdr_csv` (`GET /api/compliance/cdr.csv`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors, split_list, utc_day
from api.console.nav import section
from api.console.render import page
from api.dnc.access import STAFF
from api.dnc.policy import policy_org, saver_ip
from api.principal import Principal
from campaigns.cdr import cdr_csv
from campaigns.evidence import EvidenceRecord, evidence_for_phone
from campaigns.models import Outcome
from campaigns.recordings import recordings_of_attempts
from core.errors import ValidationError
from core.runtime import Runtime
from dnc.policy import PolicyRules, read_policy, update_policy
from dnc.reasons import DESCRIPTIONS
from dnc.verdicts import ComplianceEvidence, ListChecked

COMPLIANCE = section("Compliance", "/console/compliance", STAFF, order=30)
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

# The section's own tabs: (key, label, href).
TABS = (
    ("lookup", "Why dialed?", "/console/compliance"),
    ("lists", "DNC lists", "/console/compliance/dnc-lists"),
    ("internal", "Internal DNC", "/console/compliance/internal-dnc"),
    ("scrub", "Scrub a file", "/console/compliance/scrub"),
    ("policy", "Geo / IP policy", "/console/compliance/policy"),
    ("audit", "Audit log", "/console/compliance/audit"),
    ("cdr", "Call records", "/console/compliance/cdr"),
    ("privacy", "Privacy requests", "/console/compliance/privacy"),
    ("revocations", "Revocations", "/console/compliance/revocations"),
)
EVIDENCE_PAGE = 50


def compliance_page(request: Request[Any, Any, Any], template: str, tab: str, **extra: Any) -> Template:
    """A page of the section: the tabs, with `tab` marked current."""
    return page(request, template, tabs=TABS, tab=tab, section=COMPLIANCE, **extra)


def form_value(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return str(value[-1] if isinstance(value, list) else value).strip()


# ----------------------------------------------------------------------------- why was it dialed?


def _listed(checked: ListChecked, match: str) -> bool:
    """Whether a stored match ("<kind>:<scope>:<version>") is this checked list's."""
    kind, _, rest = match.partition(":")
    return kind == checked.kind and rest.endswith(":" + checked.version)


def _lists_checked(c: ComplianceEvidence) -> list[tuple[ListChecked, bool]]:
    return [(checked, any(_listed(checked, m) for m in c.matched)) for checked in c.lists_checked]


def _other_matches(c: ComplianceEvidence) -> list[str]:
    """Matches that are not one of the lists checked (area-code blocks, a campaign's own DNC entries)."""
    return [m for m in c.matched if not any(_listed(checked, m) for checked in c.lists_checked)]


def _attempt_view(record: EvidenceRecord) -> dict[str, Any]:
    """What the page shows of one attempt: the stored evidence, read as it was stored."""
    evidence = record.evidence
    compliance = evidence.compliance if evidence else None
    reasons = list(compliance.reasons) if compliance else list(record.verdict_reasons)
    dialed = compliance.callable if compliance else record.outcome != Outcome.BLOCKED.value
    connect_s = None
    if record.answered_at and record.agent_connected_at:
        connect_s = (record.agent_connected_at - record.answered_at).total_seconds()
    return {
        "r": record,
        "dialed": dialed,
        "reasons": [(code, DESCRIPTIONS.get(code, code)) for code in reasons],
        "c": compliance,
        "lists": _lists_checked(compliance) if compliance else [],
        "other_matches": _other_matches(compliance) if compliance else [],
        "attestation": evidence.attestation if evidence else None,
        "abandon": evidence.abandon if evidence else None,
        "connect_s": connect_s,
    }


@get("/console/compliance", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def number_lookup(
    request: Request[Any, Any, Any], session: Session, phone: str = "", cursor: str | None = None
) -> Template:
    """Every attempt to a number across the organization's campaigns, newest first (one query a page)."""
    e164, attempts, next_cursor, error = "", [], None, ""
    if phone.strip():
        try:
            e164, found = evidence_for_phone(session, phone, limit=EVIDENCE_PAGE, cursor=cursor)
        except ValidationError as exc:
            error = str(exc)
        else:
            attempts = [_attempt_view(r) for r in found.records]
            recorded = recordings_of_attempts(session, [r.attempt_id for r in found.records])
            for view in attempts:
                view["recording"] = recorded.get(view["r"].attempt_id)
            next_cursor = found.next_cursor
    return compliance_page(
        request,
        "compliance/lookup.html",
        "lookup",
        phone=phone,
        e164=e164,
        attempts=attempts,
        campaigns=len({a["r"].campaign_id for a in attempts}),
        next_cursor=next_cursor,
        cursor=cursor,
        error=error,
    )


# --------------------------------------------------------------------------------- geo / IP policy

# The policy form's two parts, each saved on its own (a partial update, as PATCH /api/dnc/policy).
POLICY_PARTS = {
    "geo": ("allowed_countries", "blocked_states", "blocked_area_codes"),
    "ip": ("ip_allow_cidrs", "ip_deny_cidrs", "ip_allowed_countries"),
}
UPPER_CASE = {"allowed_countries", "blocked_states", "ip_allowed_countries"}


def _policy_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    org_id: uuid.UUID,
    rules: PolicyRules,
    *,
    typed: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    saved: str = "",
    status_code: int = 200,
) -> Template:
    values = {name: ", ".join(getattr(rules, name)) for part in POLICY_PARTS.values() for name in part}
    values.update(typed or {})
    return compliance_page(
        request,
        "compliance/policy.html",
        "policy",
        status_code=status_code,
        v=values,
        errors=errors or FormErrors(),
        saved=saved,
        my_ip=saver_ip(request, principal, runtime),
        org_id=org_id if principal.is_platform_admin else None,
    )


@get("/console/compliance/policy", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def policy_page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    runtime: Runtime,
    org_id: uuid.UUID | None = None,
) -> Template:
    org = policy_org(principal, org_id)
    return _policy_page(request, principal, runtime, org, read_policy(session, org))


@post("/console/compliance/policy", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def save_policy(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    runtime: Runtime,
    data: FormData,
    org_id: uuid.UUID | None = None,
) -> Template:
    """Save one part of the policy (geo rules or IP rules); the other part stays as it is."""
    org = policy_org(principal, org_id)
    part = form_value(data, "part")
    if part not in POLICY_PARTS:
        raise ValidationError(f"unknown policy part {part!r}; one of {', '.join(POLICY_PARTS)}", field="part")
    fields = POLICY_PARTS[part]
    changes = {name: split_list(form_value(data, name), upper=name in UPPER_CASE) for name in fields}
    try:
        rules = update_policy(session, org, changes, saver_ip=saver_ip(request, principal, runtime))
    except ValidationError as exc:
        session.rollback()  # nothing of a refused part is kept
        errors = FormErrors()
        errors.add((exc.field or "form").split("[", 1)[0], str(exc))
        typed = {name: form_value(data, name) for name in fields}
        current = read_policy(session, org)
        return _policy_page(
            request, principal, runtime, org, current, typed=typed, errors=errors, status_code=422
        )
    return _policy_page(request, principal, runtime, org, rules, saved=part)


# ------------------------------------------------------------------------------ call-detail records


@get("/console/compliance/cdr", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def cdr_page(request: Request[Any, Any, Any]) -> Template:
    today = datetime.now(UTC).date()
    return compliance_page(
        request, "compliance/cdr.html", "cdr", since=today.replace(day=1), until=today, error=""
    )


@get("/console/compliance/cdr.csv", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def cdr_download(
    request: Request[Any, Any, Any], principal: Principal, runtime: Runtime, since: str = "", until: str = ""
) -> Stream | Template:
    """The CDRs of calls placed from the first day's 00:00 UTC to the end of the last day (both
    included), streamed as the API's `cdr.csv`."""
    try:
        start, end = utc_day(since, "since"), utc_day(until, "until", end=True)
        if start is None or end is None:
            raise ValidationError("give the first and the last day", field="since")
        chunks = cdr_csv(runtime.db, principal.org_for_write(None), start, end)
    except ValidationError as exc:
        message = str(exc)
        if exc.field == "until" and since and until:
            message = f"the last day ({until}) must not be before the first day ({since})"
        return compliance_page(
            request, "compliance/cdr.html", "cdr", status_code=422, since=since, until=until, error=message
        )
    name = f"cdr-{since}-to-{until}.csv"
    return Stream(
        chunks, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


PAGES = [number_lookup, policy_page, save_policy, cdr_page, cdr_download]
