"""Responses to a lead call count only when they come from the trunk's configured address (issue 18,
item 8): a raw UDP socket plays the trunk and another, on 127.0.0.2, an attacker who learnt the call's
identifiers and answers (or refuses) in its place."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.runtime import Runtime
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, collect, first, write_profile

pytestmark = pytest.mark.sip

SDP = "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"


def _udp(ip: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, 0))
    sock.settimeout(5)
    return sock


def _headers(message: str) -> list[tuple[str, str]]:
    out = []
    for line in message.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        name, _, value = line.partition(":")
        out.append((name.strip(), value.strip()))
    return out


def _response(invite: str, status: str, sock: socket.socket, to_tag: str, body: str = "") -> bytes:
    """A response to `invite` as its UAS would send it, Contact pointing at `sock`."""
    ip, port = sock.getsockname()
    lines = [f"SIP/2.0 {status}"]
    for name, value in _headers(invite):
        if name.lower() in ("via", "from", "call-id", "cseq"):
            lines.append(f"{name}: {value}")
        elif name.lower() == "to":
            lines.append(f"To: {value};tag={to_tag}")
    lines.append(f"Contact: <sip:callee@{ip}:{port}>")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@pytest.fixture
def trunk_and_pool(
    runtime: Runtime, tmp_path: Path
) -> Iterator[tuple[socket.socket, LineWorkerPool, str, str]]:
    trunk = _udp("127.0.0.1")
    profile = write_profile(tmp_path, "raw", trunk.getsockname()[1])
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=tmp_path)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    yield trunk, pool, worker, profile
    pool.close()
    trunk.close()


def _dial_and_spoof(
    trunk_and_pool: tuple[socket.socket, LineWorkerPool, str, str],
    attempt_id: str,
    spoof: Callable[[str, socket.socket], bytes],
) -> list[p.Event]:
    trunk, pool, worker, profile = trunk_and_pool
    pool.send(worker, p.DialLead(attempt_id=attempt_id, to="+13035550199", from_number=CALLER, trunk=profile))
    invite, worker_address = trunk.recvfrom(65535)
    attacker = _udp("127.0.0.2")
    try:
        attacker.sendto(spoof(invite.decode(), attacker), worker_address)
        events = collect(
            pool,
            lambda evs: any(isinstance(e, p.Answered | p.Ended) for e in evs),
            10,
        )
        if not any(isinstance(e, p.Ended) for e in events):
            pool.hangup(attempt_id)
            events += collect(pool, lambda evs: any(isinstance(e, p.Ended) for e in evs), 10)
    finally:
        attacker.close()
    return events


def test_an_answer_from_another_address_than_the_trunks_is_not_taken_for_the_callees(
    trunk_and_pool: tuple[socket.socket, LineWorkerPool, str, str],
) -> None:
    def answer(invite: str, attacker: socket.socket) -> bytes:
        return _response(invite, "200 OK", attacker, "spoof", SDP.format(ip="127.0.0.2"))

    events = _dial_and_spoof(trunk_and_pool, "spoofed-answer", answer)

    assert not [e for e in events if isinstance(e, p.Answered)]
    ended = first(events, p.Ended, attempt_id="spoofed-answer")
    assert isinstance(ended, p.Ended) and ended.outcome is p.SipOutcome.TRUNK_FAILURE
    assert "127.0.0.2" in ended.reason and "not the trunk's address" in ended.reason


def test_a_refusal_from_another_address_does_not_mark_the_lead_busy(
    trunk_and_pool: tuple[socket.socket, LineWorkerPool, str, str],
) -> None:
    def busy(invite: str, attacker: socket.socket) -> bytes:
        return _response(invite, "486 Busy Here", attacker, "spoof")

    events = _dial_and_spoof(trunk_and_pool, "spoofed-busy", busy)

    ended = first(events, p.Ended, attempt_id="spoofed-busy")
    assert isinstance(ended, p.Ended) and ended.outcome is p.SipOutcome.TRUNK_FAILURE
    assert "127.0.0.2" in ended.reason


def test_the_same_answer_from_the_trunks_address_is_the_callees(
    trunk_and_pool: tuple[socket.socket, LineWorkerPool, str, str],
) -> None:
    trunk, pool, worker, profile = trunk_and_pool
    pool.send(
        worker, p.DialLead(attempt_id="real-answer", to="+13035550198", from_number=CALLER, trunk=profile)
    )
    invite, worker_address = trunk.recvfrom(65535)
    trunk.sendto(
        _response(invite.decode(), "200 OK", trunk, "callee", SDP.format(ip="127.0.0.1")), worker_address
    )
    events = collect(pool, lambda evs: any(isinstance(e, p.Answered | p.Ended) for e in evs), 10)
    first(events, p.Answered, attempt_id="real-answer")


def test_an_agent_leg_answered_from_another_address_than_the_phones_is_hung_up(
    trunk_and_pool: tuple[socket.socket, LineWorkerPool, str, str],
) -> None:
    phone, pool, worker, _ = trunk_and_pool  # the raw socket plays the agent's phone this time
    uri = f"sip:agent-x@127.0.0.1:{phone.getsockname()[1]}"
    pool.send(worker, p.CallAgent(agent_id="agent-x", sip_uri=uri))
    invite, worker_address = phone.recvfrom(65535)
    attacker = _udp("127.0.0.2")
    try:
        answer = _response(invite.decode(), "200 OK", attacker, "spoof", SDP.format(ip="127.0.0.2"))
        attacker.sendto(answer, worker_address)
        events = collect(pool, lambda evs: any(isinstance(e, p.AgentLegUp | p.AgentLegDown) for e in evs), 10)
    finally:
        attacker.close()
    assert not [e for e in events if isinstance(e, p.AgentLegUp)]
    down = first(events, p.AgentLegDown, agent_id="agent-x")
    assert (
        isinstance(down, p.AgentLegDown)
        and "127.0.0.2" in down.reason
        and "not the phone's address" in down.reason
    )
