"""Regenerate `safe_harbor_default.wav`: `python -m dialer.media.generate` (uses espeak-ng when present).

Without espeak-ng the message is a three-note chime, a pause, and the chime again (about 3 s), made with
the `wave` module so that it is reproducible everywhere.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

from dialer.media import DEFAULT_SAFE_HARBOR_WAV

RATE = 8000
MESSAGE = (
    "Hello, this is a call from Clearline on behalf of our client. No representative is available right "
    "now. To be added to our do-not-call list, press 9."
)


def chime_samples() -> list[int]:
    notes = (659.25, 783.99, 1046.5)
    samples: list[int] = []
    for repeat in range(2):
        for hz in notes:
            n_samples = int(RATE * 0.35)
            for n in range(n_samples):
                envelope = math.exp(-3.0 * n / n_samples)
                samples.append(int(12000 * envelope * math.sin(2 * math.pi * hz * n / RATE)))
        if repeat == 0:
            samples.extend([0] * int(RATE * 0.6))
    return samples


def write_wav(path: Path, samples: list[int]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))


def generate(path: Path = DEFAULT_SAFE_HARBOR_WAV) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        write_wav(path, chime_samples())
        return
    with tempfile.TemporaryDirectory() as tmp:
        spoken = Path(tmp) / "spoken.wav"
        subprocess.run([espeak, "-w", str(spoken), MESSAGE], check=True)
        with wave.open(str(spoken), "rb") as src:
            rate, frames = src.getframerate(), src.readframes(src.getnframes())
        pcm = struct.unpack(f"<{len(frames) // 2}h", frames)
        step = rate / RATE
        write_wav(path, [pcm[int(i * step)] for i in range(int(len(pcm) / step))])


if __name__ == "__main__":
    generate()
