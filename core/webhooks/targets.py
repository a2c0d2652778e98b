"""Which URLs a webhook may be sent to (SSRF guard). Checked when an org admin configures the endpoint and
again before every attempt, against the addresses the host resolves to *then* (a name that resolved to a
public address at configuration may point at 127.0.0.1 later: DNS rebinding). The delivery connects to
the address checked here, never resolving the name a second time."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import ValidationError

MAX_URL_CHARS = 2000
SCHEMES = ("http", "https")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValidationError):
    """The host resolves to an address webhooks may not go to (not retried: it would be refused again)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (the Host header and the TLS server name)
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked IP address the delivery connects to


def _rule_broken(addr: Address) -> str | None:
    """Why an address is not a public one, or None."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return _rule_broken(addr.ipv4_mapped)
    for rule, broken in (
        ("loopback", addr.is_loopback),
        ("unspecified", addr.is_unspecified),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("private", addr.is_private),
        ("reserved", addr.is_reserved),
        ("not globally routable", not addr.is_global),
    ):
        if broken:
            return rule
    return None


def parse_url(url: str, *, field: str = "url") -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL; a clear error naming the rule otherwise."""
    url = url.strip()
    if not url:
        raise ValidationError("url must not be empty", field=field)
    if len(url) > MAX_URL_CHARS:
        raise ValidationError(f"url is longer than {MAX_URL_CHARS} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"url {url!r} is not a URL ({exc})", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValidationError(
            f"url {url!r}: the scheme must be http or https, not {parts.scheme or 'none'!r}", field=field
        )
    if not parts.hostname:
        raise ValidationError(f"url {url!r} has no host", field=field)
    if parts.username or parts.password:
        raise ValidationError(
            f"url {_without_userinfo(url)!r} must not carry a user name or password (the signature "
            "authenticates Clearline to the receiver)",
            field=field,
        )
    if parts.fragment:
        raise ValidationError(f"url {url!r} must not have a #fragment", field=field)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()


def resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"host {host!r} does not resolve ({exc})", field="url") from None
    found: list[Address] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if addr not in found:
            found.append(addr)
    return found


def check_target(url: str, *, allow_private: bool, field: str = "url") -> Target:
    """The URL parsed, its host resolved now and every address it resolves to checked. Unless the platform
    allows private targets (CLEARLINE_WEBHOOKS_ALLOW_PRIVATE=1), an address that is loopback, private,
    link-local, multicast, reserved or otherwise not globally routable is refused."""
    scheme, host, port, path = parse_url(url, field=field)
    addresses = resolve(host, port)
    if not addresses:
        raise ValidationError(f"host {host!r} resolves to no address", field=field)
    if not allow_private:
        for addr in addresses:
            rule = _rule_broken(addr)
            if rule is not None:
                raise TargetRefused(
                    f"url {url!r}: host {host!r} resolves to {addr}, a {rule} address; webhooks go to "
                    "public addresses only (the platform setting CLEARLINE_WEBHOOKS_ALLOW_PRIVATE=1 "
                    "allows private ones)",
                    field=field,
                )
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))
