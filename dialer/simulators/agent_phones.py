"""Agent phones simulator: many SIP phones in one process that auto-answer the dialer's nailed agent legs.

Every INVITE to `sip:<agent>@host:port` is answered after `--answer-delay` seconds and the leg stays up
until the dialer hangs it up (or every phone hangs up on SIGUSR1, to test legs lost mid-call). Each phone plays a 600 Hz tone back so the callee can hear the agent, and
counts the non-silent packets it hears, which proves a lead's audio was bridged to it. Statistics
(legs per agent, legs up, sound heard per agent) go to a JSON file like the carrier's.

Run: `python -m dialer.simulators.agent_phones --port 5070 --stats /tmp/phones.json`.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dialer.simulators.carrier import write_json_atomic
from dialer.simulators.sip_uas import Dialog, SipUas, uri_user


@dataclass
class PhoneStats:
    legs_answered: Counter[str] = field(default_factory=Counter)
    legs_up: dict[str, bool] = field(default_factory=dict)
    loud_packets_heard: Counter[str] = field(default_factory=Counter)
    """Per agent: non-silent packets heard on legs that have ended, plus the live leg's count."""
    packets_heard: Counter[str] = field(default_factory=Counter)


class AgentPhones:
    def __init__(self, *, answer_delay_s: float, stats_path: Path | None) -> None:
        self.answer_delay_s = answer_delay_s
        self.stats_path = stats_path
        self.stats = PhoneStats()
        self.live: dict[str, Dialog] = {}
        self.finished_loud: Counter[str] = Counter()
        self.finished_packets: Counter[str] = Counter()

    def on_invite(self, ua: SipUas, dialog: Dialog) -> None:
        agent = uri_user(dialog.invite.uri)
        dialog.data["agent"] = agent
        ua.ring(dialog)

        def answer() -> None:
            if ua.answer(dialog):
                self.live[agent] = dialog
                self.stats.legs_answered[agent] += 1
                self.stats.legs_up[agent] = True

        ua.schedule(self.answer_delay_s, answer)

    def on_ended(self, ua: SipUas, dialog: Dialog, how: str) -> None:
        agent = dialog.data.get("agent", "")
        if self.live.get(agent) is dialog:
            del self.live[agent]
            self.stats.legs_up[agent] = False
        self.finished_loud[agent] += dialog.loud_packets_in
        self.finished_packets[agent] += dialog.packets_in

    def write_stats(self) -> None:
        if self.stats_path is None:
            return
        for agent in set(self.finished_loud) | set(self.live):
            live = self.live.get(agent)
            self.stats.loud_packets_heard[agent] = self.finished_loud[agent] + (
                live.loud_packets_in if live else 0
            )
            self.stats.packets_heard[agent] = self.finished_packets[agent] + (live.packets_in if live else 0)
        write_json_atomic(self.stats_path, vars(self.stats))


def start_agent_phones(
    *, port: int, stats_path: Path, answer_delay_s: float = 0.2, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start the phones process; it is listening once `stats_path` exists (`carrier.wait_listening`)."""
    stats_path.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "dialer.simulators.agent_phones",
        "--port",
        str(port),
        "--stats",
        str(stats_path),
    ]
    argv += ["--answer-delay", str(answer_delay_s)]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Clearline agent phones simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5070)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--answer-delay", type=float, default=0.2)
    args = parser.parse_args(argv)
    phones = AgentPhones(answer_delay_s=args.answer_delay, stats_path=args.stats)
    ua = SipUas(phones, host=args.host, sip_port=args.port, media="tone", tone_hz=600)

    def stop(signum: int, frame: object) -> None:
        ua.running = False

    hang_up_requested = False

    def hang_up_all(signum: int, frame: object) -> None:
        nonlocal hang_up_requested
        hang_up_requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, hang_up_all)

    def flush() -> None:
        nonlocal hang_up_requested
        if hang_up_requested:  # handled here, between SIP messages, not inside the signal handler
            hang_up_requested = False
            for dialog in list(phones.live.values()):
                ua.bye(dialog)
        phones.write_stats()
        ua.schedule(0.1, flush)

    phones.write_stats()
    ua.schedule(0.25, flush)
    ua.run()
    phones.write_stats()
    ua.close()


if __name__ == "__main__":
    main()
