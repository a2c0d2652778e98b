"""Answering-machine detection on a live call, without pjsua2: the callee's audio read from the recorder
file the line worker writes in tmpfs as it grows (`GrowingWav`), fed to `AmdDetector`; then, for a machine
that gets a voicemail message, the cue to start it (`VoicemailCue`: its beep, or the end of its greeting).

Why a file: the pinned pjsua2 2.10 wheel has no `AudioMediaPort`, so Python cannot take frames from the
conference bridge; an `AudioMediaRecorder` can write them, and on tmpfs reading them back costs no disk.
Its writer flushes in 4 KB blocks (0.25 s of 8 kHz audio), so the worker sees the audio up to that late,
plus its poll interval: `lag_ms` measures it on every call (docs/media.md has the figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import webrtcvad

from dialer.media.amd import FRAME_MS, AmdDetector, AmdError, AmdResult, AmdSettings, BeepDetector, Decision
from dialer.media.wav import GrowingWav

VOICEMAIL_SILENCE_MS = 1500
"""A machine's greeting with no beep is over after this much silence: the message starts."""
VOICEMAIL_MAX_WAIT_MS = 30000
"""No beep and no silence this long after the machine was detected: no message (hang up)."""
VOICE_RMS = 150.0  # quieter than this is no voice, whatever the VAD says (a line's noise)


class VoicemailCue:
    """Fed a machine's audio after detection, 20 ms at a time: `beep` once a beep has ended, `silence`
    after `VOICEMAIL_SILENCE_MS` without voice, `timeout` after `VOICEMAIL_MAX_WAIT_MS`."""

    def __init__(self, rate: int, *, in_beep: bool = False, min_beep_ms: int = 160) -> None:
        self.rate = rate
        self._frame_bytes = rate * FRAME_MS // 1000 * 2
        self._pending = b""
        self._beep = BeepDetector(rate, min_beep_ms)
        self._vad = webrtcvad.Vad(2)
        self._in_beep = in_beep
        self._quiet_ms = 0
        self._elapsed_ms = 0
        self.cue: str | None = None

    def feed(self, pcm: bytes) -> str | None:
        data = self._pending + pcm
        whole = len(data) - len(data) % self._frame_bytes
        self._pending = data[whole:]
        for at in range(0, whole, self._frame_bytes):
            if self.cue is not None:
                break
            self.cue = self._step(data[at : at + self._frame_bytes])
        return self.cue

    def _step(self, frame: bytes) -> str | None:
        samples = np.frombuffer(frame, dtype="<i2")
        self._elapsed_ms += FRAME_MS
        if self._in_beep:
            return "beep" if self._beep.tone(samples) is None else None  # the tone stopped
        if self._beep.push(samples):
            self._in_beep = True
            return None
        x = samples.astype(np.float64)
        voice = float(np.sqrt(x @ x / len(x))) >= VOICE_RMS and self._vad.is_speech(frame, self.rate)
        self._quiet_ms = 0 if voice else self._quiet_ms + FRAME_MS
        if self._quiet_ms >= VOICEMAIL_SILENCE_MS:
            return "silence"
        if self._elapsed_ms >= VOICEMAIL_MAX_WAIT_MS:
            return "timeout"
        return None


class LiveAmd:
    """One call's detection, from the recorder file that started at `started_at` (epoch seconds).

    `poll(now)` reads what the recorder added and feeds it on; `decision` is set once the detector
    decides (with `greeting_ended_at` and `lag_ms`), then `cue` once a machine that gets a message
    (`voicemail`) gives its cue. `max_lag_ms` is the worst delay seen between the audio and its reading."""

    def __init__(self, path: Path, settings: AmdSettings, *, started_at: float, voicemail: bool) -> None:
        self.path = path
        self.settings = settings.validate()
        self.started_at = started_at
        self.voicemail = voicemail
        self._reader: GrowingWav | None = None
        self._detector: AmdDetector | None = None
        self._cue: VoicemailCue | None = None
        self._fed = 0  # bytes given to the detector
        self.decision: Decision | None = None
        self.greeting_ended_at = 0.0
        self.lag_ms = 0
        self.max_lag_ms = 0
        self.cue: str | None = None

    @property
    def done(self) -> bool:
        """Nothing more to read: decided, and no voicemail cue to wait for (or it came)."""
        if self.decision is None:
            return False
        return not (self.voicemail and self.decision.result is AmdResult.MACHINE) or self.cue is not None

    def poll(self, now: float) -> None:
        if self.done:
            return
        if self._reader is None:
            try:
                self._reader = GrowingWav(self.path)
            except (FileNotFoundError, AmdError):  # the recorder has not written its header yet
                return
            self._detector = AmdDetector(self._reader.rate, self.settings)
        reader, detector = self._reader, self._detector
        assert detector is not None
        data = reader.read_new()
        heard_ms = reader.samples_read * 1000 // reader.rate
        self.max_lag_ms = max(self.max_lag_ms, int((now - self.started_at) * 1000) - heard_ms)
        if self.decision is None:
            decision = detector.feed(data)
            self._fed += len(data)
            if decision is None:
                return
            self.decision = decision
            greeting_end = detector.greeting_ended_ms
            end_ms = decision.decided_at_ms if greeting_end is None else greeting_end
            self.greeting_ended_at = self.started_at + end_ms / 1000
            self.lag_ms = max(0, int((now - self.started_at) * 1000) - decision.decided_at_ms)
            if self.voicemail and decision.result is AmdResult.MACHINE:
                self._cue = VoicemailCue(
                    reader.rate, in_beep=decision.cause == "BEEP", min_beep_ms=self.settings.min_beep_ms
                )
                decided_byte = decision.decided_at_ms * reader.rate // 1000 * 2
                data = data[len(data) - (self._fed - decided_byte) :] if self._fed > decided_byte else b""
            else:
                return
        if self._cue is not None and self.cue is None:
            self.cue = self._cue.feed(data)
