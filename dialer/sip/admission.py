"""Which SIP a line worker takes: internal bridge legs it was told to expect, responses only from the
address a call was sent to, and how many calls it may place (the slot rule). Pure decisions (no pjsua2),
tested on their own.

A line worker places calls; the only call it ever takes is an internal bridge leg from another worker
of its pool carrying a lead's audio to an agent whose phone leg it holds. Such a leg must prove where it
comes from: for each cross-worker bridge the pool (`LineWorkerPool.bridge`) draws a one-time token and
sends it to both workers, `ExpectBridge` to the agent's worker (with the lead worker's SIP address) and
`Bridge` to the lead's worker, which sends it in the INVITE's `X-Clearline-Bridge` header. The agent's
worker answers only an INVITE whose token it expects, for that agent and attempt, from that address,
before the token expires; the token is then spent. Everything else is refused and never reaches an agent
(the worker refuses it with 488 before pjsua opens media sockets for it; the 403 and reason here are
what it logs, and what a leg refused later, in `onIncomingCall`, gets).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

HARD_CALL_LIMIT = 32
"""Calls the wheel can hold per process (PJSUA_MAX_CALLS of pjsua2-python 2.10)."""
MAX_WORKER_CALLS = 30
SOCKET_REUSE_S = 0.6
"""A closed call's media sockets free their ioqueue slot only ~0.5 s later (docs/sip.md)."""

BRIDGE_TOKEN_HEADER = "X-Clearline-Bridge"
BRIDGE_TOKEN_TTL_S = 10.0
"""How long an agent's worker waits for the internal leg after `ExpectBridge` (a bridge takes ~10 ms)."""


@dataclass(frozen=True)
class ExpectedLeg:
    """An internal leg an agent's worker was told to expect (`ExpectBridge`)."""

    attempt_id: str
    agent_id: str
    source: str  # "host:port" of the lead's worker SIP transport
    expires_at: float  # on the worker's monotonic clock


@dataclass(frozen=True)
class Admission:
    status: int  # 200: answer it (subject to the agent leg being free); otherwise the SIP refusal
    reason: str

    @property
    def admitted(self) -> bool:
        return self.status == 200


def can_place_call(*, live_calls: int, recently_ended: int, reserve: int, max_calls: int) -> bool:
    """May the worker place one more call now? At most `max_calls` (≤ 30) calls including the slots kept
    for bridges (`reserve`), and calls in progress + calls ended in the last `SOCKET_REUSE_S` below the
    wheel's 32: a call admitted while closed calls' media sockets still hold the 64-slot ioqueue aborts
    the process (docs/sip.md)."""
    calls = live_calls + reserve
    return calls < min(max_calls, MAX_WORKER_CALLS) and calls + recently_ended < HARD_CALL_LIMIT


def sip_address(uri_or_address: str) -> str:
    """`host:port` of a SIP URI (`sip:w-1@127.0.0.1:5071`) or of a `host:port` source address."""
    text = uri_or_address.split(";", 1)[0]
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1]
    return text.rsplit("@", 1)[-1].lower()


def admit_internal_leg(
    *, token: str, agent_id: str, attempt_id: str, source: str, expected: ExpectedLeg | None, now: float
) -> Admission:
    """May this inbound INVITE (its bridge token, X-Clearline-Agent / -Attempt headers and the address it
    came from) be answered as the internal leg `expected` describes? `expected` is what the worker holds
    for `token` (None if nothing)."""
    if not token:
        return Admission(403, "Only internal bridge legs are accepted")
    if expected is None:
        return Admission(403, "Unknown or already used bridge token")
    if now > expected.expires_at:
        return Admission(403, "Bridge token expired")
    if (agent_id, attempt_id) != (expected.agent_id, expected.attempt_id):
        return Admission(403, "Bridge token issued for another agent or attempt")
    if sip_address(source) != sip_address(expected.source):
        return Admission(403, "Bridge leg from an unexpected address")
    return Admission(200, "")


def uri_host(uri: str) -> str:
    """The host of a SIP URI or of a `host[:port]` proxy address (IPv6 without brackets)."""
    text = sip_address(uri)
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.split(":", 1)[0]


def response_source_ok(source: str, configured_host: str) -> bool:
    """May a response from `source` (`ip:port`) count for a call sent to `configured_host`? Checked when the
    configured host is an IP address (the usual IP-authenticated trunk, an agent phone on a LAN); a host
    name may resolve to several addresses that pjsip alone knows, so its responses are not re-checked."""
    try:
        expected = ipaddress.ip_address(configured_host)
    except ValueError:
        return True
    try:
        return ipaddress.ip_address(uri_host(source)) == expected
    except ValueError:
        return False
