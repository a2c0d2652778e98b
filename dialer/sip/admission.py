"""Which inbound INVITEs a line worker answers: a pure decision (no pjsua2), tested on its own.

A line worker places calls; the only call it ever takes is an internal bridge leg from another worker
of its pool carrying a lead's audio to an agent whose phone leg it holds. Such a leg must prove where it
comes from: for each cross-worker bridge the pool (`LineWorkerPool.bridge`) draws a one-time token and
sends it to both workers, `ExpectBridge` to the agent's worker (with the lead worker's SIP address) and
`Bridge` to the lead's worker, which sends it in the INVITE's `X-Clearline-Bridge` header. The agent's
worker answers only an INVITE whose token it expects, for that agent and attempt, from that address,
before the token expires; the token is then spent. Everything else gets 403 and never reaches an agent.
"""

from __future__ import annotations

from dataclasses import dataclass

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
