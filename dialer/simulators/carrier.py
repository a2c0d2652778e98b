"""The carrier simulator: a SIP trunk on loopback that rings, answers, hangs up and checks STIR/SHAKEN.

Each INVITE gets a behaviour drawn from the configured probabilities (human / machine / no answer /
busy), or the one its `X-Sim-Behaviour` header asks for (tests; `X-Sim-Talk-S` and `X-Sim-Opt-Out: 1|0`
likewise fix the talk time and whether the callee presses the opt-out key). It rings for a random ring time, then
answers with `X-Sim-Answered-By: human|machine` — this header stands in for the carrier's answering-
machine detection (the `loopback-sim` profile reads it) — talks for a random talk time and sends BYE.
A no-answer call rings until the caller CANCELs. A human may press the opt-out key (RFC 2833) some seconds
after answering. With `human_wav` / `machine_wav` configured, the callee plays that greeting (8 kHz WAV,
e.g. from `dialer.media.corpus`) after answering instead of the tone, for answering-machine detection on
the audio; its record then has `greeting_started_at` and `first_loud_at` (when the caller's audio, such as
a voicemail message, was first heard). Every INVITE's `Identity` header is checked with `attestation.verify.verify_identity`
against a pinned certificate chain (when configured), and every result is counted.

Statistics go to a JSON file (`--stats`), rewritten atomically twice a second: the engine, `clearline
demo` and the tests read it with `read_stats()`.

Run: `python -m dialer.simulators.carrier --port 5090 --stats /tmp/carrier.json [--config behaviour.json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import wave
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from attestation.certificates import load_certificates
from attestation.verify import CertificateSource, PinnedCertificate, verify_identity
from dialer.simulators.sip_uas import Dialog, SipUas, uri_user

BEHAVIOURS = ("human", "machine", "no_answer", "busy")
BEHAVIOUR_HEADER = "x-sim-behaviour"
TALK_HEADER = "x-sim-talk-s"
OPT_OUT_HEADER = "x-sim-opt-out"
ANSWERED_BY_HEADER = "X-Sim-Answered-By"
MAX_CALL_RECORDS = 2000


@dataclass
class CarrierBehaviour:
    """Probabilities (weights, normalized) and time ranges (seconds, uniform) of the simulated callees."""

    human: float = 0.5
    machine: float = 0.2
    no_answer: float = 0.2
    busy: float = 0.1
    ring_s: tuple[float, float] = (1.0, 4.0)
    talk_s: tuple[float, float] = (5.0, 15.0)
    machine_talk_s: tuple[float, float] = (3.0, 6.0)
    opt_out: float = 0.0
    """Share of human callees that press `opt_out_key` `opt_out_after_s` after answering."""
    opt_out_key: str = "9"
    opt_out_after_s: float = 3.0
    reject_bad_identity: bool = False
    """Answer an INVITE whose Identity fails verification with the RFC 8224 status (428/436/437/438)."""
    human_wav: str = ""
    machine_wav: str = ""
    """A greeting (8 kHz mono 16-bit PCM WAV, e.g. from `dialer.media.corpus`) a human or machine callee
    plays after answering, instead of the tone: for answering-machine detection on the audio."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CarrierBehaviour:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"carrier behaviour: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        values = dict(data)
        for key in ("ring_s", "talk_s", "machine_talk_s"):
            if key in values:
                low, high = values[key]
                if not 0 <= low <= high:
                    raise ValueError(f"carrier behaviour: {key} must be [low, high] with 0 <= low <= high")
                values[key] = (float(low), float(high))
        behaviour = cls(**values)
        if sum(getattr(behaviour, b) for b in BEHAVIOURS) <= 0:
            raise ValueError("carrier behaviour: the probabilities of human/machine/no_answer/busy sum to 0")
        return behaviour

    def draw(self, rng: random.Random) -> str:
        return rng.choices(BEHAVIOURS, weights=[getattr(self, b) for b in BEHAVIOURS])[0]


@dataclass
class CarrierStats:
    invites: int = 0
    concurrent: int = 0
    max_concurrent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    identity: Counter[str] = field(default_factory=Counter)
    """`verified`, `failed`, `missing`, `present_unverified` (no certificate configured)."""
    identity_failures: Counter[str] = field(default_factory=Counter)
    opt_outs_sent: int = 0
    calls_by_number: Counter[str] = field(default_factory=Counter)
    max_cps: int = 0
    """The most INVITEs that arrived within any 1 s (a sliding window, not per calendar second)."""
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per Call-ID: number, caller, behaviour, identity result, PAI, loud packets heard, how it ended."""


class Carrier:
    def __init__(
        self,
        behaviour: CarrierBehaviour,
        *,
        certificates: CertificateSource | None,
        stats_path: Path | None,
        seed: int | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.certificates = certificates
        self.stats_path = stats_path
        self.stats = CarrierStats()
        self.rng = random.Random(seed)
        self.dirty = True
        self._last_second: deque[float] = deque()  # arrival times of the INVITEs of the last second
        self._greetings: dict[str, bytes] = {}

    def on_invite(self, ua: SipUas, dialog: Dialog) -> None:
        invite = dialog.invite
        number = uri_user(invite.uri)
        pai = invite.header("p-asserted-identity")
        caller = uri_user(pai) or uri_user(invite.header("from"))
        requested = invite.header(BEHAVIOUR_HEADER).strip().lower()
        behaviour = requested if requested in BEHAVIOURS else self.behaviour.draw(self.rng)
        identity = self._check_identity(invite.header("identity"), caller, number)
        record: dict[str, Any] = {
            "number": number,
            "caller": caller,
            "from": invite.header("from"),
            "p_asserted_identity": pai,
            "identity": identity[0],
            "identity_reason": identity[1],
            "behaviour": behaviour,
            "invite_bytes": invite.size,
            "offered_payload_types": _offered_payload_types(invite.body),
            "at": time.time(),
        }
        self.stats.invites += 1
        self.stats.calls_by_number[number] += 1
        arrived = time.monotonic()
        while self._last_second and self._last_second[0] <= arrived - 1.0:
            self._last_second.popleft()
        self._last_second.append(arrived)
        self.stats.max_cps = max(self.stats.max_cps, len(self._last_second))
        self._record(dialog.call_id, record)
        self.stats.concurrent += 1
        self.stats.max_concurrent = max(self.stats.max_concurrent, self.stats.concurrent)
        self.dirty = True
        dialog.data["record"] = record
        if identity[0] == "failed" and self.behaviour.reject_bad_identity and identity[2]:
            ua.reject(dialog, identity[2], f"Identity rejected: {identity[1]}")
            return
        if behaviour == "busy":
            ua.schedule(self.rng.uniform(0.05, 0.3), lambda: ua.reject(dialog, 486, "Busy Here"))
            return
        ua.ring(dialog)
        if behaviour == "no_answer":
            return  # rings until the caller gives up and CANCELs
        ring = self.rng.uniform(*self.behaviour.ring_s)
        ua.schedule(ring, lambda: self._answer(ua, dialog, behaviour))

    def _answer(self, ua: SipUas, dialog: Dialog, behaviour: str) -> None:
        answered_by = "machine" if behaviour == "machine" else "human"
        if not ua.answer(dialog, {ANSWERED_BY_HEADER: answered_by}):
            return
        greeting = self.behaviour.machine_wav if behaviour == "machine" else self.behaviour.human_wav
        if greeting:
            ua.play(dialog, self.greeting(greeting))
        talk = self.behaviour.machine_talk_s if behaviour == "machine" else self.behaviour.talk_s
        talk_s = _float_header(dialog, TALK_HEADER) or self.rng.uniform(*talk)
        ua.schedule(talk_s, lambda: ua.bye(dialog))
        requested_opt_out = dialog.invite.header(OPT_OUT_HEADER).strip()
        opts_out = (
            requested_opt_out == "1" if requested_opt_out else self.rng.random() < self.behaviour.opt_out
        )
        if behaviour == "human" and opts_out:
            ua.schedule(self.behaviour.opt_out_after_s, lambda: self._press_opt_out(ua, dialog))

    def greeting(self, path: str) -> bytes:
        if path not in self._greetings:
            with wave.open(path, "rb") as wav:
                if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (8000, 1, 2):
                    raise ValueError(f"carrier greeting {path}: 8 kHz mono 16-bit PCM WAV expected")
                self._greetings[path] = wav.readframes(wav.getnframes())
        return self._greetings[path]

    def _press_opt_out(self, ua: SipUas, dialog: Dialog) -> None:
        if dialog.state == "confirmed":
            ua.send_dtmf(dialog, self.behaviour.opt_out_key)
            self.stats.opt_outs_sent += 1
            dialog.data["record"]["opt_out_sent"] = True

    def on_ended(self, ua: SipUas, dialog: Dialog, how: str) -> None:
        record = dialog.data.get("record")
        if record is None:
            return
        self.stats.concurrent -= 1
        answered = 200 <= dialog.final_status < 300
        outcome = (
            record["behaviour"]
            if answered
            else {487: "no_answer", 486: "busy"}.get(dialog.final_status, f"rejected_{dialog.final_status}")
        )
        self.stats.outcomes[outcome] += 1
        record.update(
            ended=how,
            final_status=dialog.final_status,
            packets_heard=dialog.packets_in,
            loud_packets_heard=dialog.loud_packets_in,
            ended_at=time.time(),
            greeting_started_at=dialog.playback_started_at or None,
            greeting_played_to_end=bool(dialog.playback_ended_at),
            first_loud_at=dialog.first_loud_at or None,
        )
        self.dirty = True

    def _check_identity(self, header: str, caller: str, number: str) -> tuple[str, str, int | None]:
        if not header:
            self.stats.identity["missing"] += 1
            return "missing", "", None
        if self.certificates is None:
            self.stats.identity["present_unverified"] += 1
            return "present_unverified", "", None
        result = verify_identity(
            header, orig=caller, dest=number, now=int(time.time()), certificates=self.certificates
        )
        if result.ok:
            self.stats.identity["verified"] += 1
            return "verified", result.reason, None
        self.stats.identity["failed"] += 1
        self.stats.identity_failures[result.reason] += 1
        return "failed", result.reason, result.response

    def _record(self, call_id: str, record: dict[str, Any]) -> None:
        calls = self.stats.calls
        calls[call_id] = record
        if len(calls) > MAX_CALL_RECORDS:
            del calls[next(iter(calls))]

    def write_stats(self) -> None:
        if self.stats_path is None or not self.dirty:
            return
        self.dirty = False
        write_json_atomic(self.stats_path, vars(self.stats))


def _float_header(dialog: Dialog, name: str) -> float | None:
    try:
        return float(dialog.invite.header(name))
    except ValueError:
        return None


def _offered_payload_types(sdp: str) -> list[int]:
    for line in sdp.splitlines():
        if line.startswith("m=audio "):
            return [int(pt) for pt in line.split()[3:] if pt.isdigit()]
    return []


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_stats(path: Path) -> dict[str, Any]:
    """The simulator's latest statistics (empty dict before the first write).

    Published twice a second from the simulator's own process: a call may be missing from them for up to
    half a second after its INVITE or its end (longer under load). Wait for what you look for."""
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}


def start_carrier(
    *,
    port: int,
    stats_path: Path,
    behaviour: CarrierBehaviour | None = None,
    chain_pem: Path | None = None,
    trust_anchor_pem: Path | None = None,
    media: str = "tone",
    seed: int | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a carrier simulator process; it is listening once `stats_path` exists (see `wait_listening`)."""
    stats_path.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "dialer.simulators.carrier",
        "--port",
        str(port),
        "--stats",
        str(stats_path),
    ]
    argv += ["--media", media, "--behaviour", json.dumps(asdict(behaviour or CarrierBehaviour()))]
    if chain_pem is not None:
        argv += ["--chain", str(chain_pem)]
    if trust_anchor_pem is not None:
        argv += ["--trust-anchor", str(trust_anchor_pem)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def wait_listening(process: subprocess.Popen[bytes], stats_path: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not stats_path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited with {process.returncode} before listening")
        if time.monotonic() > deadline:
            raise RuntimeError(f"simulator not listening after {timeout_s} s")
        time.sleep(0.05)


def _certificates(chain: Path | None, anchor: Path | None) -> CertificateSource | None:
    if chain is None:
        return None
    anchors = load_certificates(anchor.read_bytes()) if anchor is not None else None
    return PinnedCertificate(load_certificates(chain.read_bytes()), trust_anchors=anchors)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Clearline carrier simulator (SIP trunk on loopback)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5090)
    parser.add_argument(
        "--stats", type=Path, required=True, help="JSON statistics file, rewritten twice a second"
    )
    parser.add_argument("--behaviour", default="{}", help="CarrierBehaviour as JSON")
    parser.add_argument(
        "--chain", type=Path, help="PEM chain (leaf first) of the certificate our calls are signed with"
    )
    parser.add_argument("--trust-anchor", type=Path, help="PEM root the chain must lead to")
    parser.add_argument("--media", default="tone", choices=("tone", "echo", "none"))
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    carrier = Carrier(
        CarrierBehaviour.from_dict(json.loads(args.behaviour)),
        certificates=_certificates(args.chain, args.trust_anchor),
        stats_path=args.stats,
        seed=args.seed,
    )
    ua = SipUas(carrier, host=args.host, sip_port=args.port, media=args.media, tone_hz=1000)
    for greeting in (carrier.behaviour.human_wav, carrier.behaviour.machine_wav):
        if greeting:  # encoded now, not while other calls' packets wait
            for pt in (0, 8):
                ua.encoded(carrier.greeting(greeting), pt)

    def stop(signum: int, frame: object) -> None:
        ua.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def flush() -> None:
        carrier.write_stats()
        ua.schedule(0.5, flush)

    carrier.write_stats()
    ua.schedule(0.5, flush)
    ua.run()
    carrier.dirty = True
    carrier.write_stats()
    ua.close()


if __name__ == "__main__":
    main()
