"""A line worker answers no INVITE but the internal bridge leg it was told to expect (issue 18, item 8):
raw SIP over loopback from a socket playing a scanner or an attacker who knows a READY agent's id, next to
a real cross-worker bridge that must keep working."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.runtime import Runtime
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, Simulators, collect, first, wait_for_stats, write_profile

pytestmark = pytest.mark.sip

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


REFUSED = "SIP/2.0 488 Not Acceptable Here"
"""How a worker refuses an INVITE it does not admit: pjsua's answer when the call's media cannot be set
up, the only refusal pjsua2 2.10 allows before it opens the call's media sockets (docs/sip.md)."""


class RawUac:
    """A bare UDP SIP client: sends one request, reads the responses, ACKs and hangs up what it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, target_port: int, headers: dict[str, str], body: str = "") -> list[str]:
        """Send `method` to the worker and return the status lines of its responses (ACKs a final one)."""
        call_id, tag, branch = uuid.uuid4().hex, uuid.uuid4().hex[:8], f"z9hG4bK{uuid.uuid4().hex[:16]}"
        head = self._head(method, target_port, call_id, tag, branch, 1, "", headers)
        packet = head + f"Content-Length: {len(body)}\r\n\r\n{body}"
        self.sock.sendto(packet.encode(), ("127.0.0.1", target_port))
        statuses: list[str] = []
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                continue
            first_line = data.split("\r\n", 1)[0]
            if not first_line.startswith("SIP/2.0"):
                statuses.append(f"request {first_line}")  # e.g. a NOTIFY it should never send
                continue
            if _header(data, "call-id") != call_id:
                continue  # a retransmission for an earlier request
            code = int(first_line.split()[1])
            statuses.append(first_line)
            if code < 200:
                continue
            if method == "INVITE":
                to_tag = _header(data, "to").split("tag=")[-1]
                # ACK of a failure is part of the INVITE transaction (same branch); of a 200, a new one.
                ack_branch = branch if code >= 300 else f"z9hG4bK{uuid.uuid4().hex[:16]}"
                self._send("ACK", target_port, call_id, tag, ack_branch, 1, to_tag)
                if code == 200:
                    self._send("BYE", target_port, call_id, tag, f"z9hG4bK{uuid.uuid4().hex[:16]}", 2, to_tag)
            break
        return statuses

    def _head(
        self,
        method: str,
        port: int,
        call_id: str,
        tag: str,
        branch: str,
        cseq: int,
        to_tag: str,
        headers: dict[str, str],
    ) -> str:
        to = f"<sip:worker@127.0.0.1:{port}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} sip:worker@127.0.0.1:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
            f"From: <sip:scanner@127.0.0.1:{self.port}>;tag={tag}",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {'INVITE' if method == 'ACK' else method}",
            f"Contact: <sip:scanner@127.0.0.1:{self.port}>",
            "Max-Forwards: 70",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        return "\r\n".join(lines) + "\r\n"

    def _send(
        self, method: str, port: int, call_id: str, tag: str, branch: str, cseq: int, to_tag: str
    ) -> None:
        head = self._head(method, port, call_id, tag, branch, cseq, to_tag, {})
        self.sock.sendto((head + "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))

    def invite(self, port: int, headers: dict[str, str]) -> list[str]:
        sdp = SDP.format(port=40000 + self.port % 1000 * 2)
        return self.request("INVITE", port, {**headers, "Content-Type": "application/sdp"}, sdp)


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return ""


@dataclass
class Floor:
    pool: LineWorkerPool
    lead_worker: str
    agent_worker: str
    agent_port: int
    lead_address: str
    trunk: str
    phones_port: int
    phones_stats: Path
    uac: RawUac


@pytest.fixture(scope="module")
def floor(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Floor]:
    directory = tmp_path_factory.mktemp("admission")
    simulators = Simulators(directory=directory, processes=[])
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=directory)
    uac = RawUac()
    try:
        carrier_port, _ = simulators.carrier(CarrierBehaviour(ring_s=(0.1, 0.2), talk_s=(1.5, 1.5)))
        phones_port, phones_stats = simulators.phones()
        lead_worker = pool.start_worker(profiles_dir=directory)
        agent_worker = pool.start_worker(profiles_dir=directory)
        pool.wait_ready([lead_worker, agent_worker])
        workers = pool.workers()
        yield Floor(
            pool=pool,
            lead_worker=lead_worker,
            agent_worker=agent_worker,
            agent_port=int(workers[agent_worker].sip_uri.rsplit(":", 1)[1]),
            lead_address=workers[lead_worker].sip_uri.rsplit("@", 1)[1],
            trunk=write_profile(directory, "sim", carrier_port),
            phones_port=phones_port,
            phones_stats=phones_stats,
            uac=uac,
        )
    finally:
        uac.close()
        pool.close()
        simulators.stop()


def _nail(floor: Floor, agent_id: str) -> None:
    uri = f"sip:{agent_id}@127.0.0.1:{floor.phones_port}"
    floor.pool.send(floor.agent_worker, p.CallAgent(agent_id=agent_id, sip_uri=uri))
    collect(floor.pool, lambda evs: any(isinstance(e, p.AgentLegUp) for e in evs), 10)


def _alive(floor: Floor) -> bool:
    process = floor.pool.workers()[floor.agent_worker].process
    return process is not None and process.poll() is None


def _final(statuses: list[str]) -> str:
    finals = [s for s in statuses if s.startswith("SIP/2.0") and not s.split()[1].startswith("1")]
    assert finals, statuses
    return finals[-1]


def test_an_invite_naming_a_ready_agent_is_refused_and_never_reaches_the_agent(floor: Floor) -> None:
    _nail(floor, "ready-agent")
    headers = {"X-Clearline-Agent": "ready-agent", "X-Clearline-Attempt": "made-up"}

    plain = floor.uac.invite(floor.agent_port, headers)
    guessed = floor.uac.invite(floor.agent_port, {**headers, "X-Clearline-Bridge": "guessed-token"})
    scanner = floor.uac.invite(floor.agent_port, {})

    for statuses in (plain, guessed, scanner):
        assert _final(statuses) == REFUSED
    time.sleep(0.5)
    phones = wait_for_stats(floor.phones_stats, lambda s: "ready-agent" in s["legs_up"])
    assert phones["legs_up"]["ready-agent"] and phones["loud_packets_heard"].get("ready-agent", 0) == 0
    events = floor.pool.events(0.2)
    assert not [e for e in events if isinstance(e, p.AgentLegDown | p.AgentFree)]
    assert _alive(floor)


def test_a_token_opens_one_internal_leg_from_the_expected_address_only_once(floor: Floor) -> None:
    _nail(floor, "token-agent")
    leg = {"X-Clearline-Agent": "token-agent", "X-Clearline-Attempt": "a-1"}
    floor.pool.send(
        floor.agent_worker,
        p.ExpectBridge(attempt_id="a-1", agent_id="token-agent", token="t-1", source=floor.lead_address),
    )
    time.sleep(0.2)
    from_elsewhere = floor.uac.invite(floor.agent_port, {**leg, "X-Clearline-Bridge": "t-1"})
    assert _final(from_elsewhere) == REFUSED

    # Sent right before the INVITE, as the pool does: the worker reads it when the INVITE needs it.
    mine = f"127.0.0.1:{floor.uac.port}"
    floor.pool.send(
        floor.agent_worker, p.ExpectBridge(attempt_id="a-1", agent_id="token-agent", token="t-2", source=mine)
    )
    leg["X-Clearline-Bridge"] = "t-2"
    other_agent = floor.uac.invite(floor.agent_port, {**leg, "X-Clearline-Agent": "ready-agent"})
    assert _final(other_agent) == REFUSED
    assert _final(floor.uac.invite(floor.agent_port, leg)) == "SIP/2.0 200 OK"  # (then hung up)
    time.sleep(0.3)
    assert _final(floor.uac.invite(floor.agent_port, leg)) == REFUSED
    assert _alive(floor)


def test_a_flood_of_invites_is_refused_without_taking_the_worker_down(floor: Floor) -> None:
    # Refused after pjsua opened their media sockets (as before), 32 INVITEs within 20 ms aborted a worker.
    finals = [
        _final(floor.uac.invite(floor.agent_port, {"X-Clearline-Agent": "ready-agent"})) for _ in range(150)
    ]
    assert set(finals) == {REFUSED}
    time.sleep(0.5)
    assert _alive(floor)


def test_subscriptions_are_refused(floor: Floor) -> None:
    statuses = floor.uac.request("SUBSCRIBE", floor.agent_port, {"Event": "presence", "Expires": "60"})
    assert _final(statuses).startswith("SIP/2.0 403")
    assert not [s for s in statuses if s.startswith("request")]


def test_a_real_cross_worker_bridge_still_connects_the_lead_to_the_agent(floor: Floor) -> None:
    _nail(floor, "bridge-agent")
    pool = floor.pool
    pool.send(
        floor.lead_worker,
        p.DialLead(
            attempt_id="cross-1",
            to="+13035550101",
            from_number=CALLER,
            trunk=floor.trunk,
            extra_headers={"X-Sim-Behaviour": "human"},
        ),
    )

    def bridge_on_answer(event: p.Event) -> None:
        if isinstance(event, p.Answered) and event.attempt_id == "cross-1":
            pool.bridge("cross-1", "bridge-agent")

    events = collect(pool, lambda evs: any(isinstance(e, p.AgentFree) for e in evs), 15, bridge_on_answer)
    bridged = first(events, p.Bridged, attempt_id="cross-1", agent_id="bridge-agent")
    answered = first(events, p.Answered, attempt_id="cross-1")
    assert bridged.at - answered.at < 2.0
    assert not [e for e in events if isinstance(e, p.BridgeFailed)]
    first(events, p.AgentFree, attempt_id="cross-1", agent_id="bridge-agent")
