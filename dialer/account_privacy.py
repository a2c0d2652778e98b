"""A platform user's rights over their account data (an agent leaving): access exports what the
platform holds about them; deletion anonymizes the account. The one home of these rules; the API calls
`file_user_request`, the job worker runs `carry_out_user_request` (registered with `core.privacy`).

The user row itself stays, anonymized: audit rows, call attempts and agent sessions point at it, and those
are kept under their own retention rules (`audit_log` / `audit_compliance`, `call_records`). Their
actions in the audit log are kept as written (the log is append-only), and go with their period.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Campaign, CampaignAgent
from core import retention
from core.accounts import bump_token_version
from core.db import Scope, utcnow
from core.errors import NotFoundError, ValidationError
from core.jobs import create_job
from core.models import AuditEntry, AuthSession, RecoveryCode, User
from core.privacy import HANDLERS, JOB_KIND, PrivacyRequest, RequestKind, due_date, parse_kind
from core.runtime import Runtime
from core.security import hash_password
from dialer.models import AgentPhoneRule, AgentSession

MAX_AUDIT_ROWS = 100_000


def anonymous_email(user_id: uuid.UUID) -> str:
    return f"deleted-user-{user_id}@deleted.invalid"


def file_user_request(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    kind: str,
    user_id: uuid.UUID,
    requested_by: uuid.UUID | None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Record a request over a user's account data (access or deletion) and queue its job."""
    request_kind = parse_kind(kind)
    if request_kind is RequestKind.CORRECTION:
        raise ValidationError("a user's name is corrected with PATCH /api/users/{id}, not a privacy request",
                              field="kind")  # fmt: skip
    if request_kind is RequestKind.DELETION and user_id == requested_by:
        raise ValidationError("you cannot delete your own account; another org admin can", field="user_id")
    with runtime.db.session(Scope(org_id)) as s:
        if s.scalars(select(User.id).where(User.id == user_id)).one_or_none() is None:
            raise NotFoundError(f"user {user_id} not found")
    received = now or utcnow()
    job_id = create_job(runtime.db, Scope(org_id), kind=JOB_KIND, params={"org_id": str(org_id)},
                        created_by=requested_by)  # fmt: skip
    with runtime.db.session(Scope(org_id)) as s:
        request = PrivacyRequest(
            org_id=org_id, kind=request_kind.value, subject="user", subject_user_id=user_id,
            received_at=received, due_at=due_date(received), job_id=job_id, requested_by=requested_by,
        )  # fmt: skip
        s.add(request)
        s.flush()
        request_id = request.id
    from campaigns.tasks import run_privacy_request

    run_privacy_request.send(str(job_id))
    return request_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_export(session: Session, user: User) -> dict[str, Any]:
    """What the platform holds about a user: the account (never its secrets), logins, assignments, agent
    sessions, phones reserved to them, the calls they handled (not the called numbers: other people's
    data) and their actions in the audit log."""
    campaigns = dict(session.execute(select(Campaign.id, Campaign.name)).tuples().all())
    sessions = session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)
                               .order_by(AuthSession.created_at))  # fmt: skip
    agent_sessions = session.scalars(select(AgentSession).where(AgentSession.agent_id == user.id)
                                     .order_by(AgentSession.started_at))  # fmt: skip
    calls = session.execute(
        select(CallAttempt.id, CallAttempt.campaign_id, CallAttempt.placed_at, CallAttempt.outcome,
               CallAttempt.disposition).where(CallAttempt.agent_id == user.id).order_by(CallAttempt.placed_at)
    ).all()  # fmt: skip
    audit = session.scalars(select(AuditEntry).where(AuditEntry.user_id == user.id)
                            .order_by(AuditEntry.id).limit(MAX_AUDIT_ROWS))  # fmt: skip
    return {
        "account": {"id": str(user.id), "email": user.email, "display_name": user.display_name,
                    "role": user.role.value, "is_active": user.is_active, "created_at": _iso(user.created_at),
                    "last_login_at": _iso(user.last_login_at), "mfa_enabled": user.mfa_enabled},
        "login_sessions": [{"created_at": _iso(a.created_at), "last_used_at": _iso(a.last_used_at),
                            "ended_at": _iso(a.revoked_at), "client_ip": str(a.client_ip) if a.client_ip else None}
                           for a in sessions],
        "campaigns": [campaigns.get(c, str(c)) for c in session.scalars(
            select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == user.id))],
        "agent_sessions": [{"campaign": campaigns.get(a.campaign_id, str(a.campaign_id)), "phone": a.sip_uri,
                            "started_at": _iso(a.started_at), "ended_at": _iso(a.ended_at),
                            "calls_handled": a.calls_handled} for a in agent_sessions],
        "reserved_phones": [r.value for r in session.scalars(
            select(AgentPhoneRule).where(AgentPhoneRule.agent_id == user.id))],
        "calls_handled": [{"attempt_id": str(c.id), "campaign": campaigns.get(c.campaign_id, ""),
                           "placed_at": _iso(c.placed_at), "outcome": c.outcome, "disposition": c.disposition}
                          for c in calls],
        "audit_log": [{"at": _iso(a.at), "action": a.action, "target": a.target, "outcome": a.outcome,
                       "client_ip": str(a.client_ip) if a.client_ip else None, "process": a.process}
                      for a in audit],
    }  # fmt: skip


def _rule(kind: str) -> dict[str, Any]:
    rule = retention.BY_KIND[kind]
    return {"rule": kind, "kept_for_days": rule.days, "reason": rule.reason}


def anonymize_account(session: Session, user: User, *, now: datetime) -> dict[str, Any]:
    """The account can no longer log in and no longer names the person; what the law and the audit
    need stays, each under its rule."""
    codes = session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    assignments = session.execute(delete(CampaignAgent).where(CampaignAgent.user_id == user.id))
    phones = session.execute(delete(AgentPhoneRule).where(AgentPhoneRule.agent_id == user.id))
    ended = session.execute(
        update(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason="account_deleted")
    )  # fmt: skip
    user.email = anonymous_email(user.id)
    user.display_name = ""
    user.is_active = False
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it: no login, ever
    user.mfa_secret, user.mfa_enabled, user.mfa_last_step = None, False, None
    user.must_change_password = False
    bump_token_version(session, user)
    session.flush()
    audit_rows = session.scalars(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.user_id == user.id)
    ).one()
    calls = session.scalars(
        select(func.count()).select_from(CallAttempt).where(CallAttempt.agent_id == user.id)
    ).one()
    count = int(getattr(codes, "rowcount", 0) or 0)
    return {
        "deleted": {
            "name_and_email": True, "password_and_mfa": True, "recovery_codes": count,
            "campaign_assignments": int(getattr(assignments, "rowcount", 0) or 0),
            "reserved_phones": int(getattr(phones, "rowcount", 0) or 0),
            "sessions_ended": int(getattr(ended, "rowcount", 0) or 0),
        },
        "kept": [
            {"what": "the user's actions in the audit log, as written (the log is append-only)",
             "count": audit_rows, **_rule("audit_log"),
             "note": "compliance actions are kept for the TSR period (rule audit_compliance)"},
            {"what": "the calls the user handled as agent (call-detail records name the agent by id)",
             "count": calls, **_rule("call_records")},
            {"what": "login sessions (when, from which address), ended", **_rule("sessions")},
            {"what": "the anonymized account row, which those records point at", "rule": "audit_log",
             "kept_for_days": None, "reason": "an id without name or email, so the kept records stay readable"},
        ],
    }  # fmt: skip


def carry_out_user_request(
    session: Session, home: Path, request: PrivacyRequest, now: datetime
) -> dict[str, Any]:
    user = session.scalars(select(User).where(User.id == request.subject_user_id)).one_or_none()
    if user is None:
        raise ValidationError(f"user {request.subject_user_id} is no longer in the organization")
    if request.kind == RequestKind.ACCESS.value:
        request.export = account_export(session, user)
        return {
            "kind": request.kind,
            "exported": {k: len(v) for k, v in request.export.items() if isinstance(v, list)},
        }
    return {"kind": request.kind, "user_id": str(user.id), **anonymize_account(session, user, now=now)}


HANDLERS["user"] = carry_out_user_request
