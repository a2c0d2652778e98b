"""An organization's compliance policy (geo rules for dialing, IP firewall rules for the API): reading it,
validating and saving it, and the briefly cached copy the firewall consults on every request."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import ValidationError
from dnc.firewall import decide_ip, validate_cidrs
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


def read_policy(session: Session, org_id: uuid.UUID) -> PolicyRules:
    """The organization's policy (the default one when it saved none)."""
    return PolicyRules.of(_row(session, org_id))


def _row(session: Session, org_id: uuid.UUID) -> CompliancePolicy | None:
    return session.scalars(select(CompliancePolicy).where(CompliancePolicy.org_id == org_id)).one_or_none()


def update_policy(
    session: Session, org_id: uuid.UUID, changes: Mapping[str, list[str]], *, saver_ip: str | None
) -> PolicyRules:
    """Change the rules given (the others stay), validated; refused when the new IP rules would refuse
    `saver_ip`, the address of the user saving them (a platform admin can always reset a policy). The
    firewall applies the result within seconds."""
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError(
            f"unknown policy rule {unknown[0]}; the rules are {', '.join(POLICY_FIELDS)}", field=unknown[0]
        )
    current = read_policy(session, org_id)
    checked = _check_rules(replace(current, **{k: list(v) for k, v in changes.items()}))
    if saver_ip is not None and _is_ip(saver_ip):
        decision = decide_ip(
            saver_ip,
            allow_cidrs=checked.ip_allow_cidrs,
            deny_cidrs=checked.ip_deny_cidrs,
            allowed_countries=checked.ip_allowed_countries,
        )
        if not decision.allowed:
            raise ValidationError(
                f"these IP rules would refuse your own address {saver_ip} ({decision.rule}) and lock you out; "
                "add it to ip_allow_cidrs first",
                field="ip_allow_cidrs",
            )
    policy = _row(session, org_id)
    if policy is None:
        policy = CompliancePolicy(org_id=org_id)
        session.add(policy)
    for name in POLICY_FIELDS:
        setattr(policy, name, getattr(checked, name))
    session.flush()
    _FIREWALL_CACHE.pop(org_id, None)
    return PolicyRules.of(policy)


def replace_policy(
    session: Session, org_id: uuid.UUID, rules: PolicyRules, *, saver_ip: str | None
) -> PolicyRules:
    """Save the organization's whole policy (rules not given in `rules` take their defaults)."""
    return update_policy(session, org_id, asdict(rules), saver_ip=saver_ip)


def reset_policy(session: Session, org_id: uuid.UUID) -> PolicyRules:
    """Back to the default policy (no IP rules, US only): recovers an organization that locked itself out."""
    policy = _row(session, org_id)
    if policy is not None:
        session.delete(policy)
        session.flush()
    _FIREWALL_CACHE.pop(org_id, None)
    return PolicyRules()


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_FIREWALL_CACHE: dict[uuid.UUID, tuple[float, PolicyRules]] = {}


def firewall_rules(db: Database, org_id: uuid.UUID) -> PolicyRules:
    """The organization's policy for the per-request IP firewall, cached for a few seconds."""
    cached = _FIREWALL_CACHE.get(org_id)
    if cached is not None and time.monotonic() - cached[0] < FIREWALL_CACHE_TTL_S:
        return cached[1]
    with db.session(Scope(org_id)) as s:
        rules = read_policy(s, org_id)
    _FIREWALL_CACHE[org_id] = (time.monotonic(), rules)
    return rules
