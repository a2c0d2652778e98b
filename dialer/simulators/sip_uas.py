"""A small SIP user-agent server over UDP for the simulators: answers INVITEs, ends calls, echoes RTP.

Just enough of RFC 3261 for loopback traffic with our line workers: 100/180/200 and error responses
(retransmitted until ACK), CANCEL → 487, BYE both ways (retransmitted until answered), an SDP answer
with PCMU/PCMA + telephone-event, one shared RTP socket that echoes every call's audio back (so media
flows both ways) and can inject RFC 2833 DTMF. It is deliberately not pjsua2: a simulator process must
hold hundreds of calls, and the wheel holds 32.

Single-threaded: `run()` loops over `selectors` and a timer heap; applications react through the
`UasApp` callbacks and `schedule()`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re
import selectors
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}
RETRANSMIT_S = (0.5, 1.0, 2.0, 4.0)
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


@dataclass
class SipMessage:
    start: str
    headers: list[tuple[str, str]]
    body: str
    size: int = 0
    """Bytes on the wire (a signed INVITE must stay small enough for UDP)."""

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0] if self.is_request else self.header("cseq").split()[-1]

    @property
    def status(self) -> int:
        return int(self.start.split()[1]) if not self.is_request else 0

    @property
    def uri(self) -> str:
        return self.start.split()[1]

    def header(self, name: str) -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


def parse_message(data: bytes) -> SipMessage | None:
    try:
        text = data.decode("utf-8", "replace")
    except UnicodeDecodeError:
        return None
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0]:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers.append((COMPACT.get(key, key), value.strip()))
    return SipMessage(start=lines[0], headers=headers, body=body, size=len(data))


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (also inside <...> and with a display name)."""
    match = re.search(r"<?sips?:([^@;>]+)@", uri)
    return match.group(1) if match else ""


def uri_hostport(uri: str) -> tuple[str, int]:
    match = re.search(r"sips?:(?:[^@;>]+@)?([^:;>]+)(?::(\d+))?", uri)
    if not match:
        raise ValueError(f"not a SIP URI: {uri!r}")
    return match.group(1), int(match.group(2) or 5060)


@dataclass(eq=False)
class Dialog:
    call_id: str
    invite: SipMessage
    peer: tuple[str, int]
    local_tag: str
    remote_target: str
    remote_rtp: tuple[str, int] | None
    audio_pt: int
    dtmf_pt: int | None
    state: str = "early"
    """early → confirmed (ACK of 2xx) → ended."""
    final_status: int = 0
    last_invite_response: bytes = b""
    acked: bool = False
    bye_pending: bytes = b""
    cseq_out: int = 1
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    rtp_ts: int = 0
    packets_in: int = 0
    loud_packets_in: int = 0
    """Received audio packets that were not near-silence: proves someone's audio reached this call."""
    data: dict[str, Any] = field(default_factory=dict)
    playback: bytes = b""
    """G.711 audio sent instead of the tone, one packet's worth per packet received (`SipUas.play`)."""
    played: int = 0
    playback_started_at: float = 0.0
    """Epoch time the first packet of the playback went out (0 before)."""
    playback_ended_at: float = 0.0
    first_loud_at: float = 0.0
    """Epoch time the first loud packet arrived (when a voicemail message started, for instance)."""


class UasApp(Protocol):
    def on_invite(self, ua: SipUas, dialog: Dialog) -> None:
        """A new INVITE: respond with `ua.ring`, `ua.answer` or `ua.reject`, now or from a timer."""

    def on_ended(self, ua: SipUas, dialog: Dialog, how: str) -> None:
        """The call is over: `how` is `bye_received`, `bye_sent`, `cancelled` or `rejected`."""


class SipUas:
    def __init__(
        self,
        app: UasApp,
        *,
        host: str = "127.0.0.1",
        sip_port: int = 0,
        media: str = "tone",
        tone_hz: int = 1000,
    ) -> None:
        """`media`: `tone` answers every received RTP packet with one of a sine tone (so the far end hears
        something distinct), `echo` sends the caller's audio back, `none` stays silent."""
        if media not in ("tone", "echo", "none"):
            raise ValueError(f"media must be tone, echo or none, not {media!r}")
        self.app = app
        self.host = host
        self.media = media
        self.tone = {0: _tone(tone_hz, _ulaw), 8: _tone(tone_hz, _alaw)}
        self._encoded: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        self._g711: dict[int, np.ndarray] = {}
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((host, sip_port))
        self.sip_port = self.sip.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind((host, 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.sip.setblocking(False)
        self.rtp.setblocking(False)
        self.dialogs: dict[str, Dialog] = {}
        self.by_rtp: dict[tuple[str, int], Dialog] = {}
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sip, selectors.EVENT_READ, self._on_sip)
        self.selector.register(self.rtp, selectors.EVENT_READ, self._on_rtp)
        self.running = True

    # ------------------------------------------------------------------------------------- running

    def schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay_s, next(self.seq), action))

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        while self.running and not until():
            timeout = 0.05
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            for key, _ in self.selector.select(timeout):
                key.data()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()

    def close(self) -> None:
        self.selector.close()
        self.sip.close()
        self.rtp.close()

    # ---------------------------------------------------------------------------------------- SIP

    def _on_sip(self) -> None:
        for _ in range(64):
            try:
                data, addr = self.sip.recvfrom(65535)
            except BlockingIOError:
                return
            message = parse_message(data)
            if message is not None:
                self._dispatch(message, addr)

    def _dispatch(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        call_id = msg.header("call-id")
        dialog = self.dialogs.get(call_id)
        if not msg.is_request:
            if dialog is not None and msg.method == "BYE" and msg.status >= 200:
                dialog.bye_pending = b""
            return
        method = msg.method
        if method == "INVITE":
            if dialog is None:
                self._new_invite(msg, addr)
            elif dialog.last_invite_response:
                self.sip.sendto(dialog.last_invite_response, dialog.peer)
        elif method == "ACK":
            if dialog is not None:
                dialog.acked = True
                if 200 <= dialog.final_status < 300:
                    dialog.state = "confirmed"
        elif method == "CANCEL":
            self.sip.sendto(self._response(msg, 200, "OK"), addr)
            if dialog is not None and dialog.final_status == 0:
                self._final(dialog, 487, "Request Terminated")
                self._end(dialog, "cancelled")
        elif method == "BYE":
            self.sip.sendto(
                self._response(msg, 200 if dialog else 481, "OK" if dialog else "No such call"), addr
            )
            if dialog is not None and dialog.state != "ended":
                self._end(dialog, "bye_received")
        elif method in ("OPTIONS", "INFO", "UPDATE"):
            self.sip.sendto(self._response(msg, 200, "OK"), addr)
        else:
            self.sip.sendto(self._response(msg, 405, "Method Not Allowed"), addr)

    def _new_invite(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        rtp_host, rtp_port, audio_pt, dtmf_pt = _parse_offer(msg.body)
        contact = msg.header("contact")
        match = re.search(r"<([^>]+)>", contact)
        dialog = Dialog(
            call_id=msg.header("call-id"),
            invite=msg,
            peer=addr,
            local_tag=f"{random.getrandbits(48):x}",
            remote_target=match.group(1) if match else contact,
            remote_rtp=(rtp_host, rtp_port) if rtp_port else None,
            audio_pt=audio_pt,
            dtmf_pt=dtmf_pt,
        )
        self.dialogs[dialog.call_id] = dialog
        if dialog.remote_rtp is not None:
            self.by_rtp[dialog.remote_rtp] = dialog
        self.sip.sendto(self._response(msg, 100, "Trying", tag=False), addr)
        self.app.on_invite(self, dialog)

    def ring(self, dialog: Dialog, status: int = 180, reason: str = "Ringing") -> None:
        if dialog.final_status == 0 and dialog.state == "early":
            dialog.last_invite_response = self._response(dialog.invite, status, reason, tag=dialog.local_tag)
            self.sip.sendto(dialog.last_invite_response, dialog.peer)

    def answer(self, dialog: Dialog, headers: dict[str, str] | None = None) -> bool:
        """200 OK with an SDP answer; False if the call was already cancelled."""
        if dialog.final_status != 0 or dialog.state == "ended":
            return False
        self._final(dialog, 200, "OK", headers=headers, sdp=self._sdp(dialog))
        return True

    def reject(self, dialog: Dialog, status: int, reason: str) -> None:
        if dialog.final_status == 0 and dialog.state != "ended":
            self._final(dialog, status, reason)
            self._end(dialog, "rejected")

    def _final(
        self,
        dialog: Dialog,
        status: int,
        reason: str,
        *,
        headers: dict[str, str] | None = None,
        sdp: str = "",
    ) -> None:
        dialog.final_status = status
        dialog.last_invite_response = self._response(
            dialog.invite, status, reason, tag=dialog.local_tag, headers=headers, body=sdp
        )
        self.sip.sendto(dialog.last_invite_response, dialog.peer)
        self._retransmit_until(lambda: dialog.acked, lambda: dialog.last_invite_response, dialog.peer)

    def bye(self, dialog: Dialog) -> None:
        """Hang up an answered call from this side."""
        if dialog.state == "ended" or not (200 <= dialog.final_status < 300):
            return
        dialog.cseq_out += 1
        to_value = dialog.invite.header("from")
        from_value = f"{dialog.invite.header('to')};tag={dialog.local_tag}"
        request = (
            f"BYE {dialog.remote_target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.host}:{self.sip_port};branch=z9hG4bK{random.getrandbits(64):x};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: {from_value}\r\n"
            f"To: {to_value}\r\n"
            f"Call-ID: {dialog.call_id}\r\n"
            f"CSeq: {dialog.cseq_out} BYE\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        dialog.bye_pending = request
        target = uri_hostport(dialog.remote_target)
        self.sip.sendto(request, target)
        self._retransmit_until(lambda: not dialog.bye_pending, lambda: dialog.bye_pending, target)
        self._end(dialog, "bye_sent")

    def _retransmit_until(
        self, done: Callable[[], bool], message: Callable[[], bytes], target: tuple[str, int]
    ) -> None:
        def attempt(index: int) -> None:
            if done() or index >= len(RETRANSMIT_S):
                return
            self.sip.sendto(message(), target)
            self.schedule(RETRANSMIT_S[index], lambda: attempt(index + 1))

        self.schedule(RETRANSMIT_S[0], lambda: attempt(1))

    def _end(self, dialog: Dialog, how: str) -> None:
        dialog.state = "ended"
        if dialog.remote_rtp is not None and self.by_rtp.get(dialog.remote_rtp) is dialog:
            del self.by_rtp[dialog.remote_rtp]
        self.app.on_ended(self, dialog, how)
        # Keep the dialog a while to answer retransmissions, then forget it.
        self.schedule(8.0, lambda: self._forget(dialog))

    def _forget(self, dialog: Dialog) -> None:
        self.dialogs.pop(dialog.call_id, None)

    def _response(
        self,
        request: SipMessage,
        status: int,
        reason: str,
        *,
        tag: str | bool = True,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> bytes:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {via}" for via in request.all("via")]
        lines.append(f"From: {request.header('from')}")
        to_value = request.header("to")
        if isinstance(tag, str) and tag and ";tag=" not in to_value:
            to_value = f"{to_value};tag={tag}"
        lines.append(f"To: {to_value}")
        lines.append(f"Call-ID: {request.header('call-id')}")
        lines.append(f"CSeq: {request.header('cseq')}")
        if request.method == "INVITE" and 100 < status < 300:
            lines.append(f"Contact: <sip:sim@{self.host}:{self.sip_port}>")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def _sdp(self, dialog: Dialog) -> str:
        session = random.getrandbits(31)
        codec = "PCMU" if dialog.audio_pt == 0 else "PCMA"
        pts = f"{dialog.audio_pt}" + (f" {dialog.dtmf_pt}" if dialog.dtmf_pt is not None else "")
        lines = [
            "v=0",
            f"o=- {session} {session} IN IP4 {self.host}",
            "s=-",
            f"c=IN IP4 {self.host}",
            "t=0 0",
            f"m=audio {self.rtp_port} RTP/AVP {pts}",
            f"a=rtpmap:{dialog.audio_pt} {codec}/8000",
        ]
        if dialog.dtmf_pt is not None:
            lines += [f"a=rtpmap:{dialog.dtmf_pt} telephone-event/8000", f"a=fmtp:{dialog.dtmf_pt} 0-15"]
        lines.append("a=sendrecv")
        return "\r\n".join(lines) + "\r\n"

    # ---------------------------------------------------------------------------------------- RTP

    def _on_rtp(self) -> None:
        for _ in range(256):
            try:
                data, addr = self.rtp.recvfrom(2048)
            except BlockingIOError:
                return
            dialog = self.by_rtp.get(addr)
            if dialog is None or len(data) < 12:
                continue
            pt = data[1] & 0x7F
            if pt not in (0, 8):
                continue
            dialog.packets_in += 1
            if _is_loud(data[12:], pt):
                dialog.loud_packets_in += 1
                dialog.first_loud_at = dialog.first_loud_at or time.time()
            if self.media == "none":
                continue
            dialog.rtp_ts = struct.unpack_from("!I", data, 4)[0]
            dialog.seq = (dialog.seq + 1) & 0xFFFF
            header = struct.pack("!BBHII", 0x80, pt, dialog.seq, dialog.rtp_ts, dialog.ssrc)
            payload = data[12:] if self.media == "echo" else self._payload(dialog, pt, len(data) - 12)
            self.rtp.sendto(header + payload, addr)

    def play(self, dialog: Dialog, pcm: bytes) -> None:
        """Answer the caller's packets with this audio (8 kHz 16-bit mono PCM), then with silence."""
        dialog.playback = self.encoded(pcm, dialog.audio_pt)
        dialog.played = 0

    def encoded(self, pcm: bytes, pt: int) -> bytes:
        """The audio in G.711 (PCMU 0, PCMA 8), encoded once: encoding in Python takes long enough to starve
        other calls of their packets, so a simulator encodes its audio before it answers (see carrier)."""
        key = (id(pcm), pt)
        if key not in self._encoded:
            if pt not in self._g711:  # every 16-bit sample's code, looked up by table
                encode = _ulaw if pt == 0 else _alaw
                self._g711[pt] = np.frombuffer(bytes(encode(x) for x in range(-32768, 32768)), dtype=np.uint8)
            samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int32) + 32768
            self._encoded[key] = (pcm, self._g711[pt][samples].tobytes())
        return self._encoded[key][1]

    def _payload(self, dialog: Dialog, pt: int, size: int) -> bytes:
        if not dialog.playback:
            return self.tone[pt][:size]
        if dialog.played >= len(dialog.playback):
            if not dialog.playback_ended_at:
                dialog.playback_ended_at = time.time()
            return bytes([0xFF if pt == 0 else 0xD5]) * size  # G.711 silence
        if not dialog.playback_started_at:
            dialog.playback_started_at = time.time()
        chunk = dialog.playback[dialog.played : dialog.played + size]
        dialog.played += size
        return chunk + bytes([0xFF if pt == 0 else 0xD5]) * (size - len(chunk))

    def send_dtmf(self, dialog: Dialog, digit: str, duration_ms: int = 200) -> None:
        """Send one RFC 2833 telephone-event to the caller (needs telephone-event in its offer)."""
        if dialog.dtmf_pt is None or dialog.remote_rtp is None or dialog.state == "ended":
            return
        event = DTMF_EVENTS[digit]
        start_ts = (dialog.rtp_ts + 160) & 0xFFFFFFFF
        steps = max(1, duration_ms // 20)
        target = dialog.remote_rtp
        pt = dialog.dtmf_pt

        def packet(index: int, end: bool) -> bytes:
            dialog.seq = (dialog.seq + 1) & 0xFFFF
            marker = 0x80 if index == 0 else 0
            duration = min(steps, index + 1) * 160
            header = struct.pack("!BBHII", 0x80, marker | pt, dialog.seq, start_ts, dialog.ssrc)
            return header + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)

        def send(index: int) -> None:
            if dialog.state == "ended":
                return
            end = index >= steps - 1
            repeats = 3 if end else 1
            for _ in range(repeats):
                self.rtp.sendto(packet(index, end), target)
            if not end:
                self.schedule(0.02, lambda: send(index + 1))

        send(0)


def _parse_offer(sdp: str) -> tuple[str, int, int, int | None]:
    host, port, audio_pt, dtmf_pt = "127.0.0.1", 0, 0, None
    offered: list[int] = []
    for line in sdp.splitlines():
        if line.startswith("c=IN IP4 "):
            host = line.split()[-1]
        elif line.startswith("m=audio "):
            parts = line.split()
            port = int(parts[1])
            offered = [int(pt) for pt in parts[3:] if pt.isdigit()]
        elif line.startswith("a=rtpmap:") and "telephone-event/8000" in line:
            dtmf_pt = int(line[len("a=rtpmap:") :].split()[0])
    for pt in offered:
        if pt in (0, 8):
            audio_pt = pt
            break
    return host, port, audio_pt, dtmf_pt


def _ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _tone(hz: int, encode: Callable[[int], int]) -> bytes:
    """One second of a sine tone at -6 dBFS, G.711-encoded (sliced per packet)."""
    return bytes(encode(int(16000 * math.sin(2 * math.pi * hz * n / 8000))) for n in range(8000))


def _ulaw_magnitude(code: int) -> int:
    code = ~code & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    return ((mantissa << 3) + 0x84 << exponent) - 0x84


def _alaw_magnitude(code: int) -> int:
    code ^= 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    return ((mantissa << 4) + 8) if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)


_MAGNITUDE = {0: [_ulaw_magnitude(c) for c in range(256)], 8: [_alaw_magnitude(c) for c in range(256)]}
LOUD_THRESHOLD = 1000
"""Mean sample magnitude above which a packet counts as sound (silence and comfort noise are far below)."""


def _is_loud(payload: bytes, pt: int) -> bool:
    table = _MAGNITUDE[pt]
    head = payload[:80]
    return bool(head) and sum(table[b] for b in head) / len(head) > LOUD_THRESHOLD
