"""Which SIP URIs the dialer may call as an agent's phone: a pure decision over an organization's rules.

An org admin allows agent phones by rule (`AgentPhoneRule` rows, managed at `/api/agent-phones`):
- `phone`: one registered phone URI (`sip:1001@pbx.example.com:5060`), optionally reserved to one agent;
- `domain`: any user at that host (`pbx.example.com`), or at any subdomain with a leading `*.`;
- `cidr`: any user at an IP-literal host inside that network (`10.20.0.0/16`).
Everything else is refused before any INVITE. The organization's IP firewall (allow/deny CIDRs and
allowed countries, `dnc.firewall`) applies too when the phone's host is an IP address. The API checks a
login with `check_agent_phone`, and the engine checks again right before it calls the phone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import ValidationError
from dnc.firewall import decide_ip

SIP_URI_MAX = 300
RULE_KINDS = ("phone", "domain", "cidr")
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]{1,64}")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_TRANSPORTS = ("udp", "tcp", "tls")


@dataclass(frozen=True)
class SipTarget:
    """Where an INVITE to the URI goes: scheme, user, host (lower case; IPv6 without brackets), port."""

    scheme: str
    user: str
    host: str
    port: int | None
    transport: str | None

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        transport = f";transport={self.transport}" if self.transport else ""
        return f"{self.scheme}:{self.user}@{host}{port}{transport}"


@dataclass(frozen=True)
class PhoneRule:
    kind: str  # one of RULE_KINDS
    value: str  # normalized by `normalize_rule`
    agent_id: str | None = None  # a `phone` rule may be reserved to one agent (user id)


@dataclass(frozen=True)
class IpFirewall:
    """The organization's IP firewall lists (`dnc.models.CompliancePolicy`); empty lists allow all."""

    allow_cidrs: Sequence[str] = ()
    deny_cidrs: Sequence[str] = ()
    allowed_countries: Sequence[str] = ()


@dataclass(frozen=True)
class PhoneVerdict:
    allowed: bool
    reason: str  # the rule that allowed it, or why nothing did


def parse_agent_uri(uri: str, field: str = "sip_uri") -> SipTarget:
    """A `sip:`/`sips:` URI with a user and a host, and nothing that would send the INVITE elsewhere:
    no URI headers (`?Route=...`), no parameters but `transport`. Raises `ValidationError` naming the rule."""

    def bad(rule: str) -> ValidationError:
        return ValidationError(f"{field} {uri[:SIP_URI_MAX]!r}: {rule}", field=field)

    uri = uri.strip()
    if len(uri) > SIP_URI_MAX:
        raise bad(f"at most {SIP_URI_MAX} characters")
    scheme, colon, rest = uri.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips"):
        raise bad("must be a sip: or sips: URI")
    if "?" in rest:
        raise bad("URI headers (?...) are not allowed")
    user, at, hostpart = rest.rpartition("@")
    if not at or not _USER.fullmatch(user):
        raise bad("needs a user part (letters, digits and -_.!~*'()&=+$,%) before @")
    hostport, *params = hostpart.split(";")
    transport = None
    for param in params:
        name, _, value = param.partition("=")
        if name.lower() != "transport" or value.lower() not in _TRANSPORTS:
            raise bad(f"URI parameter ;{param} is not allowed (only ;transport=udp|tcp|tls)")
        transport = value.lower()
    if hostport.startswith("["):
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket:
            raise bad("unclosed [ in the IPv6 host")
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise bad(f"{host!r} is not an IPv6 address") from exc
        port_text = tail[1:] if tail.startswith(":") else None
        if tail and port_text is None:
            raise bad("unexpected text after the IPv6 host")
    else:
        host, sep, port_text_or_empty = hostport.partition(":")
        port_text = port_text_or_empty if sep else None
        if not _HOSTNAME.fullmatch(host):
            raise bad(f"host {host!r} is not a host name or IP address")
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise bad(f"port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    return SipTarget(scheme=scheme, user=user, host=host.lower(), port=port, transport=transport)


def normalize_rule(kind: str, value: str) -> str:
    """The stored form of a rule's value; raises `ValidationError` naming the field and the rule."""
    value = value.strip()
    if kind == "phone":
        return parse_agent_uri(value, field="value").uri()
    if kind == "domain":
        name = value.lower()
        bare = name[2:] if name.startswith("*.") else name
        if not _HOSTNAME.fullmatch(bare) or "." not in bare or _is_ip(bare):
            raise ValidationError(
                f"domain {value!r} is not a host name (e.g. pbx.example.com or *.example.com)", field="value"
            )
        return name
    if kind == "cidr":
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ValidationError(f"{value!r} is not an IP network (CIDR)", field="value") from exc
    raise ValidationError(f"kind {kind!r} is not one of {', '.join(RULE_KINDS)}", field="kind")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def rule_matches(rule: PhoneRule, target: SipTarget, agent_id: str) -> bool:
    if rule.kind == "phone":
        return rule.value == target.uri() and rule.agent_id in (None, agent_id)
    if rule.kind == "domain":
        if target.ip is not None:
            return False
        if rule.value.startswith("*."):
            return target.host.endswith(rule.value[1:])
        return target.host == rule.value
    if rule.kind == "cidr":
        ip = target.ip
        return ip is not None and ip in ipaddress.ip_network(rule.value, strict=False)
    return False


def check_agent_phone(
    uri: str,
    rules: Sequence[PhoneRule],
    *,
    agent_id: str,
    firewall: IpFirewall | None = None,
    country_of: Callable[[str], str | None] | None = None,
) -> PhoneVerdict:
    """May the dialer call `uri` as `agent_id`'s phone? The first matching rule allows it, unless the host
    is an IP address the organization's IP firewall refuses."""
    try:
        target = parse_agent_uri(uri)
    except ValidationError as exc:
        return PhoneVerdict(False, str(exc))
    rule = next((r for r in rules if rule_matches(r, target, agent_id)), None)
    if rule is None:
        if not rules:
            return PhoneVerdict(
                False, f"{target.uri()} is not allowed: the organization has no agent-phone rules yet"
            )
        return PhoneVerdict(
            False, f"{target.uri()} is not allowed: no agent-phone rule (phone, domain or CIDR) matches"
        )
    allowed_by = f"{rule.kind} {rule.value}"
    if target.ip is not None and firewall is not None:
        extra = {"country_of": country_of} if country_of is not None else {}
        ip_verdict = decide_ip(
            target.host,
            allow_cidrs=firewall.allow_cidrs,
            deny_cidrs=firewall.deny_cidrs,
            allowed_countries=firewall.allowed_countries,
            **extra,
        )
        if not ip_verdict.allowed:
            return PhoneVerdict(
                False,
                f"{target.uri()} is allowed by {allowed_by} but refused by the IP firewall ({ip_verdict.rule})",
            )
    return PhoneVerdict(True, allowed_by)
