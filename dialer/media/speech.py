"""The generated safe-harbor message: its words (a pure function) and its speech (espeak-ng + sox).

47 CFR 64.1200(a)(7)(i)(A) and the TSR, 16 CFR 310.4(b)(4)(iii), ask of the message played when no agent
is free within 2 s: identify the seller on whose behalf the call was made, give a telephone number the
called person can call back, and (47 CFR 64.1200(b)(3)) an automated opt-out the person can use during
the message. `safe_harbor_text` says exactly that; `synthesize` speaks it with Debian's `espeak-ng` and
converts it with `sox` to what the line worker plays: 8 kHz mono 16-bit PCM WAV.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import phonenumbers

from core.errors import ClearlineError, ValidationError

SAMPLE_RATE = 8000
_KEY_WORDS = {"*": "star", "#": "pound"}


def spoken_number(e164: str) -> str:
    """A callback number as a listener writes it down: digit by digit, in its national groups."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            f"safe_harbor_callback_number {e164} is not an E.164 number", field="safe_harbor_callback_number"
        ) from exc
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = ["".join(ch for ch in part if ch.isdigit()) for part in national.replace("-", " ").split()]
    return ", ".join(" ".join(group) for group in groups if group)


def safe_harbor_text(seller: str, callback_e164: str, opt_out_key: str) -> str:
    """The words of the message: who calls, the number to call back, the key that stops the calls."""
    if not seller.strip():
        raise ValidationError("the safe-harbor message needs the seller's name", field="seller")
    if opt_out_key not in tuple("0123456789*#"):
        raise ValidationError("opt_out_key must be one DTMF key (0-9, * or #)", field="opt_out_key")
    key = _KEY_WORDS.get(opt_out_key, opt_out_key)
    number = spoken_number(callback_e164)
    return (
        f"Hello. This call was made on behalf of {seller.strip()}. "
        f"To call us back, dial {number}. "
        f"To stop receiving calls from {seller.strip()}, press {key} now. "
        f"Again, our number is {number}."
    )


def synthesize(text: str, target: Path) -> None:
    """Speak `text` into `target` as 8 kHz mono 16-bit PCM WAV (raises, naming the tool, when it fails)."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        missing = "espeak-ng" if espeak is None else "sox"
        raise ClearlineError(f"cannot generate the safe-harbor message: {missing} is not installed")
    with tempfile.TemporaryDirectory(prefix="clearline-tts-") as tmp:
        spoken = Path(tmp) / "spoken.wav"
        # The text goes on stdin, never on a command line: a seller's name cannot become an option.
        _run([espeak, "-v", "en-us", "-s", "150", "-w", str(spoken), "--stdin"], text)
        # -D: no dither, so the same words always give the same bytes (and the same kept copy, by sha256).
        _run(
            [
                sox,
                "-D",
                str(spoken),
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(target),
                "pad",
                "0.3",
                "0.3",
            ],
            None,
        )


def _run(command: list[str], stdin: str | None) -> None:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ClearlineError(
            f"cannot generate the safe-harbor message: {Path(command[0]).name} failed ({done.stderr.strip()[:300]})"
        )
