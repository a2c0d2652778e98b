"""The SIP headers a line worker puts on its INVITEs, and reading headers from a received message. Pure
(no pjsua2): tested on their own in `tests/sip/test_legs.py`; the worker hands the pairs to pjsua2."""

from __future__ import annotations

from dialer.sip import protocol as p
from dialer.sip.admission import BRIDGE_TOKEN_HEADER
from dialer.sip.profiles import TrunkProfile

AGENT_HEADER = "X-Clearline-Agent"
ATTEMPT_HEADER = "X-Clearline-Attempt"
ANONYMOUS_FROM = "sip:anonymous@anonymous.invalid"


def proxy_host(profile: TrunkProfile) -> str:
    return profile.proxy.split(":")[0]


def lead_from_uri(command: p.DialLead, profile: TrunkProfile) -> str:
    """The From of a lead call (pjsua has no per-call From: the worker sets it on the trunk account)."""
    if profile.presentation == "restricted":
        return ANONYMOUS_FROM
    return f"sip:{command.from_number}@{proxy_host(profile)}"


def lead_headers(command: p.DialLead, profile: TrunkProfile) -> list[tuple[str, str]]:
    """P-Asserted-Identity (unless the profile presents From only), Privacy for a restricted caller ID,
    the PASSporT `Identity` on a signing trunk, then the engine's extra headers, in that order."""
    headers: list[tuple[str, str]] = []
    if profile.presentation != "from_only":
        pai = command.p_asserted_identity or command.from_number
        if not pai.startswith(("<", "sip:", "tel:")):
            pai = f"<sip:{pai}@{proxy_host(profile)};user=phone>"
        headers.append(("P-Asserted-Identity", pai))
    if profile.presentation == "restricted":
        headers.append(("Privacy", "id"))
    if profile.stir_shaken and command.identity:
        headers.append(("Identity", command.identity))
    headers.extend(command.extra_headers.items())
    return headers


def internal_leg_headers(*, agent_id: str, attempt_id: str, token: str) -> list[tuple[str, str]]:
    """What the agent's worker checks before it answers an internal bridge leg (`dialer.sip.admission`)."""
    return [(AGENT_HEADER, agent_id), (ATTEMPT_HEADER, attempt_id), (BRIDGE_TOKEN_HEADER, token)]


def parse_headers(message: str) -> dict[str, str]:
    """Header fields of a SIP message by lower-case name (first occurrence wins)."""
    head = message.split("\r\n\r\n", 1)[0]
    fields: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields


def response_source(message: str, source: str) -> str:
    """`source` if `message` is a SIP response (only responses are checked against the callee's address)."""
    return source if message.startswith("SIP/2.0 ") else ""
