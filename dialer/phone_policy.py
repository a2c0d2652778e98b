"""An organization's agent-phone rules in the database: manage them, load them, and refuse a phone they do
not allow (the decision itself is `dialer.phone_rules.check_agent_phone`). Used by the API routes, the
agent-login service and the engine."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.models import Role, User
from dialer.models import AgentPhoneRule
from dialer.phone_rules import (
    RULE_KINDS,
    IpFirewall,
    PhoneRule,
    PhoneVerdict,
    check_agent_phone,
    normalize_rule,
)
from dnc.models import CompliancePolicy

NOTE_MAX = 200


class PhoneNotAllowedError(PermissionDeniedError):
    """The agent's phone URI matches none of the organization's agent-phone rules."""


def phone_policy(session: Session) -> tuple[list[PhoneRule], IpFirewall]:
    """The rules and IP firewall of the session's organization (the session is scoped to it)."""
    rules = [
        PhoneRule(kind=r.kind, value=r.value, agent_id=str(r.agent_id) if r.agent_id else None)
        for r in session.scalars(select(AgentPhoneRule).order_by(AgentPhoneRule.created_at))
    ]
    policy = session.scalars(select(CompliancePolicy)).one_or_none()
    firewall = (
        IpFirewall(policy.ip_allow_cidrs, policy.ip_deny_cidrs, policy.ip_allowed_countries)
        if policy is not None
        else IpFirewall()
    )
    return rules, firewall


def check_phone(session: Session, *, agent_id: uuid.UUID | str, sip_uri: str) -> PhoneVerdict:
    rules, firewall = phone_policy(session)
    return check_agent_phone(sip_uri, rules, agent_id=str(agent_id), firewall=firewall)


def require_allowed_phone(session: Session, *, agent_id: uuid.UUID | str, sip_uri: str) -> None:
    """Raise `PhoneNotAllowedError` (403) naming the URI and the rule unless the organization allows it."""
    verdict = check_phone(session, agent_id=agent_id, sip_uri=sip_uri)
    if not verdict.allowed:
        raise PhoneNotAllowedError(
            f"sip_uri refused: {verdict.reason}; an org admin allows phones at /api/agent-phones"
        )


def list_rules(session: Session) -> list[AgentPhoneRule]:
    return list(session.scalars(select(AgentPhoneRule).order_by(AgentPhoneRule.kind, AgentPhoneRule.value)))


def add_rule(
    session: Session,
    *,
    org_id: uuid.UUID,
    kind: str,
    value: str,
    agent_id: uuid.UUID | None = None,
    note: str = "",
    created_by: uuid.UUID | None = None,
) -> AgentPhoneRule:
    if kind not in RULE_KINDS:
        raise ValidationError(f"kind {kind!r} is not one of {', '.join(RULE_KINDS)}", field="kind")
    normalized = normalize_rule(kind, value)
    if agent_id is not None:
        if kind != "phone":
            raise ValidationError(
                "agent_id reserves a phone rule to one agent; omit it for domains and CIDRs", field="agent_id"
            )
        agent = session.scalars(select(User).where(User.id == agent_id)).one_or_none()
        if agent is None or agent.org_id != org_id or agent.role not in (Role.AGENT, Role.MANAGER):
            raise NotFoundError(f"agent {agent_id} not found in this organization")
    if len(note) > NOTE_MAX:
        raise ValidationError(f"note is {len(note)} characters; at most {NOTE_MAX}", field="note")
    existing = session.scalars(
        select(AgentPhoneRule).where(
            AgentPhoneRule.org_id == org_id, AgentPhoneRule.kind == kind, AgentPhoneRule.value == normalized
        )
    ).one_or_none()
    if existing is not None:
        raise ConflictError(f"a {kind} rule {normalized!r} already exists (id {existing.id})")
    rule = AgentPhoneRule(
        org_id=org_id, kind=kind, value=normalized, agent_id=agent_id, note=note, created_by=created_by
    )
    session.add(rule)
    session.flush()
    return rule


def delete_rule(session: Session, rule_id: uuid.UUID) -> None:
    """Remove a rule. Agents already logged in from a phone it allowed keep their leg until they log out;
    the engine checks again at every new call to a phone (login, reconnect after a worker died)."""
    rule = session.scalars(select(AgentPhoneRule).where(AgentPhoneRule.id == rule_id)).one_or_none()
    if rule is None:
        raise NotFoundError(f"agent-phone rule {rule_id} not found")
    session.delete(rule)
