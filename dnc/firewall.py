"""The API's IP firewall as a pure decision: per-organization allow/deny CIDR lists and allowed countries
(offline IP-to-country data from `iptocc`). The HTTP middleware that applies it lives in `api.firewall`."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import iptocc

from core.errors import ValidationError


@dataclass(frozen=True)
class IpDecision:
    allowed: bool
    rule: str  # which rule decided, for the audit log


def _country(ip: str) -> str | None:
    code: str | None = iptocc.country_code(ip)
    return code


def validate_cidrs(cidrs: Sequence[str], field: str) -> list[str]:
    out = []
    for i, cidr in enumerate(cidrs):
        try:
            out.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError as exc:
            raise ValidationError(f"{cidr!r} is not an IP network (CIDR)", field=f"{field}[{i}]") from exc
    return out


def decide_ip(
    ip: str | None,
    *,
    allow_cidrs: Sequence[str],
    deny_cidrs: Sequence[str],
    allowed_countries: Sequence[str],
    country_of: Callable[[str], str | None] = _country,
) -> IpDecision:
    """Deny rules win; an explicit allow CIDR admits an address regardless of its country; otherwise the
    address must be in the allow list (when there is one) and in an allowed country (when restricted)."""
    if not (allow_cidrs or deny_cidrs or allowed_countries):
        return IpDecision(True, "no rules")
    if ip is None:
        return IpDecision(False, "client address unknown")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return IpDecision(False, f"client address {ip!r} is not an IP address")
    for cidr in deny_cidrs:
        if address in ipaddress.ip_network(cidr, strict=False):
            return IpDecision(False, f"deny {cidr}")
    for cidr in allow_cidrs:
        if address in ipaddress.ip_network(cidr, strict=False):
            return IpDecision(True, f"allow {cidr}")
    if allow_cidrs:
        return IpDecision(False, "not in the allow list")
    if allowed_countries:
        country = country_of(str(address))
        if country not in allowed_countries:
            return IpDecision(False, f"country {country or 'unknown'} not allowed")
        return IpDecision(True, f"country {country}")
    return IpDecision(True, "not denied")
