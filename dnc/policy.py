"""An organization's compliance policy (geo rules for dialing, IP firewall rules for the API): reading it,
validating and saving it, and the briefly cached copy the firewall consults on every request."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import ValidationError
from dnc.firewall import validate_cidrs
from dnc.models import CompliancePolicy

POLICY_FIELDS = (
    "allowed_countries",
    "blocked_states",
    "blocked_area_codes",
    "ip_allow_cidrs",
    "ip_deny_cidrs",
    "ip_allowed_countries",
)
_AREA_CODE = re.compile(r"^[2-9][0-9]{2}$")
_TWO_LETTERS = re.compile(r"^[A-Z]{2}$")
FIREWALL_CACHE_TTL_S = 2.0


@dataclass(frozen=True)
class PolicyRules:
    """The policy's rules as plain data (the default policy when an organization saved none)."""

    allowed_countries: list[str] = field(default_factory=lambda: ["US"])
    blocked_states: list[str] = field(default_factory=list)
    blocked_area_codes: list[str] = field(default_factory=list)
    ip_allow_cidrs: list[str] = field(default_factory=list)
    ip_deny_cidrs: list[str] = field(default_factory=list)
    ip_allowed_countries: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, policy: CompliancePolicy | None) -> PolicyRules:
        if policy is None:
            return cls()
        return cls(**{name: list(getattr(policy, name)) for name in POLICY_FIELDS})


def check_area_code(code: str, field_name: str) -> str:
    """A NANP area code: three digits, the first 2-9."""
    if not (isinstance(code, str) and _AREA_CODE.match(code)):
        raise ValidationError(f"{code} is not a NANP area code (3 digits, the first 2-9)", field=field_name)
    return code


def _check_rules(rules: PolicyRules) -> PolicyRules:
    for i, code in enumerate(rules.blocked_area_codes):
        check_area_code(code, f"blocked_area_codes[{i}]")
    for name in ("allowed_countries", "blocked_states", "ip_allowed_countries"):
        for i, code in enumerate(getattr(rules, name)):
            if not _TWO_LETTERS.match(code):
                raise ValidationError(f"{code} is not a two-letter upper-case code", field=f"{name}[{i}]")
    return PolicyRules(
        allowed_countries=list(rules.allowed_countries),
        blocked_states=list(rules.blocked_states),
        blocked_area_codes=list(rules.blocked_area_codes),
        ip_allow_cidrs=validate_cidrs(rules.ip_allow_cidrs, "ip_allow_cidrs"),
        ip_deny_cidrs=validate_cidrs(rules.ip_deny_cidrs, "ip_deny_cidrs"),
        ip_allowed_countries=list(rules.ip_allowed_countries),
    )


def read_policy(session: Session) -> PolicyRules:
    """The policy of the session's organization."""
    return PolicyRules.of(session.scalars(select(CompliancePolicy)).one_or_none())


def replace_policy(session: Session, org_id: uuid.UUID, rules: PolicyRules) -> PolicyRules:
    """Validate and save the organization's whole policy; the firewall applies it within seconds."""
    checked = _check_rules(rules)
    policy = session.scalars(select(CompliancePolicy).where(CompliancePolicy.org_id == org_id)).one_or_none()
    if policy is None:
        policy = CompliancePolicy(org_id=org_id)
        session.add(policy)
    for name in POLICY_FIELDS:
        setattr(policy, name, getattr(checked, name))
    session.flush()
    _FIREWALL_CACHE.pop(org_id, None)
    return PolicyRules.of(policy)


_FIREWALL_CACHE: dict[uuid.UUID, tuple[float, PolicyRules]] = {}


def firewall_rules(db: Database, org_id: uuid.UUID) -> PolicyRules:
    """The organization's policy for the per-request IP firewall, cached for a few seconds."""
    cached = _FIREWALL_CACHE.get(org_id)
    if cached is not None and time.monotonic() - cached[0] < FIREWALL_CACHE_TTL_S:
        return cached[1]
    with db.session(Scope(org_id)) as s:
        rules = read_policy(s)
    _FIREWALL_CACHE[org_id] = (time.monotonic(), rules)
    return rules
