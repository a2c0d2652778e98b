"""Answering-machine detection on the callee's audio, fed 20 ms at a time as it arrives (pure: no I/O).

Two detectors with one interface (`feed(pcm)` returns a `Decision` once there is one, `finish()` when the
audio ends):

- `AmdDetector`, Clearline's: voice activity from WebRTC's VAD gated by an adaptive noise floor, timing
  rules of the `app_amd` kind and a beep detector. It is biased towards people, because hanging up on a
  person counts as an abandoned call: it says `machine` only on positive evidence (a greeting longer than a
  person's, or a voicemail beep), says `human` as soon as a short greeting is followed by the silence of
  someone waiting for an answer, and says `notsure` (the call goes to an agent) for everything else: a long
  initial silence, noise it cannot read, running out of analysis time.
- `AsteriskAmd`, the baseline: Asterisk's `app_amd` algorithm with its default parameters, as the
  benchmark's reference (docs/media.md).

Times are milliseconds of audio from the answer; `decided_at_ms` is the end of the frame that decided.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np
import webrtcvad

from core.errors import ValidationError

FRAME_MS = 20
VOICE_DROPOUT_MS = 60
SUPPORTED_RATES = (8000, 16000)


class AmdResult(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    NOTSURE = "notsure"


@dataclass(frozen=True)
class Decision:
    result: AmdResult
    cause: str
    decided_at_ms: int

    def as_dict(self) -> dict[str, object]:
        return {"result": self.result.value, "cause": self.cause, "decided_at_ms": self.decided_at_ms}


class AmdError(ValidationError):
    """Bad settings or audio: the message names the field, the value and the rule."""


@dataclass(frozen=True)
class AmdSettings:
    """Clearline's detector thresholds (a campaign may set its own; `validate` names what is wrong)."""

    after_greeting_silence_ms: int = 800  # silence after a short greeting that says "a person waits"
    max_human_greeting_ms: int = 3200  # a greeting still going after this long is a recording
    max_initial_silence_ms: int = 5000  # no greeting by then: notsure (an agent takes it), never machine
    total_analysis_ms: int = 8000  # undecided by then: notsure
    min_speech_ms: int = 120  # voice shorter than this (a click, a breath) starts no greeting
    vad_aggressiveness: int = 2  # WebRTC VAD mode 0-3
    beep: bool = True  # a voicemail beep (a steady 1-2 kHz tone) decides machine
    min_beep_ms: int = 160

    LIMITS = {
        "after_greeting_silence_ms": (300, 3000),
        "max_human_greeting_ms": (1000, 10000),
        "max_initial_silence_ms": (1000, 10000),
        "total_analysis_ms": (2000, 30000),
        "min_speech_ms": (20, 500),
        "vad_aggressiveness": (0, 3),
        "min_beep_ms": (60, 2000),
    }

    def validate(self) -> AmdSettings:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "beep":
                if not isinstance(value, bool):
                    raise AmdError(f"AMD setting beep: {value!r} must be true or false", field="beep")
                continue
            low, high = self.LIMITS[field.name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise AmdError(
                    f"AMD setting {field.name}: {value!r} must be a whole number from {low} to {high}",
                    field=field.name,
                )
        if self.max_initial_silence_ms >= self.total_analysis_ms:
            raise AmdError(
                f"AMD setting max_initial_silence_ms: {self.max_initial_silence_ms} must be less than "
                f"total_analysis_ms ({self.total_analysis_ms})",
                field="max_initial_silence_ms",
            )
        return self

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AmdSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AmdError(
                f"AMD settings: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})",
                field=unknown[0],
            )
        return cls(**data).validate()  # type: ignore[arg-type]


def campaign_amd(data: dict[str, object]) -> tuple[bool, AmdSettings]:
    """A campaign's `amd_settings` ({"enabled": bool, "voicemail_drop": bool, thresholds...}): whether AMD
    runs, with which settings (`voicemail_drop` is read by `voicemail_drop`). A bad one raises AmdError
    whose field is `amd_settings.<name>`."""
    values = dict(data)
    enabled = values.pop("enabled", False)
    for name, value in (("enabled", enabled), ("voicemail_drop", values.pop("voicemail_drop", False))):
        if not isinstance(value, bool):
            raise AmdError(
                f"amd_settings.{name}: {value!r} must be true or false", field=f"amd_settings.{name}"
            )
    try:
        return enabled is True, AmdSettings.from_dict(values)
    except AmdError as exc:
        field = f"amd_settings.{exc.field}" if exc.field else "amd_settings"
        raise AmdError(f"amd_settings: {exc}", field=field) from exc


def voicemail_drop(data: dict[str, object]) -> bool:
    """Does the campaign leave its message on the machines AMD detects (`amd_settings.voicemail_drop`;
    only where the lead's consent allows a prerecorded message, `dnc.verdicts`)?"""
    enabled, _ = campaign_amd(data)
    return enabled and data.get("voicemail_drop") is True


class Detector(Protocol):
    def feed(self, pcm: bytes) -> Decision | None: ...

    def finish(self) -> Decision: ...


def _check_rate(rate: int) -> int:
    if rate not in SUPPORTED_RATES:
        raise AmdError(f"sample rate {rate} Hz: AMD reads 8000 or 16000 Hz audio")
    return rate


class _Framer:
    """Cuts a byte stream of 16-bit little-endian mono PCM into 20 ms frames."""

    def __init__(self, rate: int) -> None:
        self.rate = _check_rate(rate)
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self._pending = b""

    def frames(self, pcm: bytes) -> list[bytes]:
        data = self._pending + pcm
        whole = len(data) - len(data) % self.frame_bytes
        self._pending = data[whole:]
        return [data[i : i + self.frame_bytes] for i in range(0, whole, self.frame_bytes)]


class BeepDetector:
    """A steady tone between 1 and 2 kHz (a voicemail beep), by a bank of Goertzel filters.

    Each 20 ms frame is measured at 45 frequencies, 950-2050 Hz every 25 Hz (the Goertzel result at each
    is the DFT at that frequency; all 45 come from one matrix product). A frame is tonal when one
    frequency holds most of the frame's energy; a beep is `min_beep_ms` of tonal frames at one frequency
    (within 50 Hz). Speech rarely puts more than a third of its energy in one narrow band, and never
    holds it steady for 160 ms.
    """

    FREQUENCIES = np.arange(950.0, 2051.0, 25.0)
    TONAL_SHARE = 0.55

    def __init__(self, rate: int, min_beep_ms: int = 160) -> None:
        n = rate * FRAME_MS // 1000
        t = np.arange(n) / rate
        angles = 2 * np.pi * np.outer(self.FREQUENCIES, t)
        self._cos, self._sin = np.cos(angles), np.sin(angles)
        self._n = n
        self._needed = max(1, min_beep_ms // FRAME_MS)
        self._run = 0
        self._hz = 0.0

    def tone(self, samples: np.ndarray) -> float | None:
        """The frame's tone frequency, or None."""
        x = samples.astype(np.float64)
        energy = float(x @ x)
        if energy < self._n * 200.0**2:  # quieter than a beep ever is on a line
            return None
        power = (self._cos @ x) ** 2 + (self._sin @ x) ** 2
        k = int(np.argmax(power))
        share = float(power[k]) / (energy * self._n / 2)
        return float(self.FREQUENCIES[k]) if share >= self.TONAL_SHARE else None

    def push(self, samples: np.ndarray) -> bool:
        """True on the frame that completes a beep."""
        hz = self.tone(samples)
        if hz is None:
            self._run = 0
            return False
        self._run = self._run + 1 if self._run and abs(hz - self._hz) <= 50 else 1
        self._hz = hz
        return self._run == self._needed


class _StreamingDetector:
    """What both detectors share: audio cut into 20 ms frames as it arrives, one decision, kept once made.
    A subclass sets `_framer`, `now_ms`, `decision`, defines `_step(frame)` and `ENDED_CAUSE`."""

    ENDED_CAUSE = (
        "ENDED"  # the cause when the audio ends before a decision (the callee hung up, the file ended)
    )
    _framer: _Framer
    now_ms: int
    decision: Decision | None

    def _step(self, frame: bytes) -> Decision | None:
        raise NotImplementedError

    def _decide(self, result: AmdResult, cause: str) -> Decision:
        self.decision = Decision(result, cause, self.now_ms)
        return self.decision

    def feed(self, pcm: bytes) -> Decision | None:
        if self.decision is not None:
            return self.decision
        for frame in self._framer.frames(pcm):
            decision = self._step(frame)
            if decision is not None:
                return decision
        return None

    def finish(self) -> Decision:
        """The decision when the audio ends before one was made."""
        if self.decision is not None:
            return self.decision
        return self._decide(AmdResult.NOTSURE, f"{self.ENDED_CAUSE}-{self.now_ms}")


class AmdDetector(_StreamingDetector):
    """Clearline's detector (see the module docstring and docs/media.md for the rules and why)."""

    def __init__(self, rate: int = 8000, settings: AmdSettings | None = None) -> None:
        self.settings = (settings or AmdSettings()).validate()
        self._framer = _Framer(rate)
        self._vad = webrtcvad.Vad(self.settings.vad_aggressiveness)
        self._beep = BeepDetector(rate, self.settings.min_beep_ms)
        self.rate = rate
        self.now_ms = 0
        self.decision: Decision | None = None
        n = rate * FRAME_MS // 1000
        bins = np.fft.rfftfreq(n, 1 / rate)
        self._band = (bins >= 300) & (bins <= 3400)
        self._floor = 0.0  # the line's noise level (RMS), tracked from its quiet frames
        self._in_voice = False  # in a stretch of voice (weak frames continue it)
        self._speech_run = 0  # consecutive strong voice ms (a stretch starts at min_speech_ms)
        self._strong_in_run = False
        self._greeting_start: int | None = None
        self._last_voice_end = 0

    @property
    def greeting_ended_ms(self) -> int | None:
        """Audio time the callee's voice last stopped, once a greeting started (None before one)."""
        return self._last_voice_end if self._greeting_start is not None else None

    def _level(self, frame: bytes, samples: np.ndarray) -> tuple[bool, bool]:
        """(strong, weak) voice: strong starts a stretch of voice, weak (quieter, within it) continues it."""
        # Level in the voice band only (300-3400 Hz): mains hum and rumble, however loud, are no voice
        spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
        rms = float(np.sqrt(2 * spectrum[self._band].sum()) / len(samples))
        # The floor follows quiet frames quickly and loud ones slowly, so speech barely lifts it
        if self._floor == 0.0:
            self._floor = max(rms, 1.0)
        elif rms < self._floor:
            self._floor = 0.7 * self._floor + 0.3 * max(rms, 1.0)
        else:
            self._floor = 0.999 * self._floor + 0.001 * rms
        if rms < max(40.0, 1.6 * self._floor) or not self._vad.is_speech(frame, self.rate):
            return False, False
        return rms >= max(100.0, 3.0 * self._floor), True  # strong: 10 dB over the line's noise

    def _step(self, frame: bytes) -> Decision | None:
        s = self.settings
        samples = np.frombuffer(frame, dtype="<i2")
        self.now_ms += FRAME_MS
        if s.beep and self._beep.push(samples):
            return self._decide(AmdResult.MACHINE, "BEEP")
        strong, weak = self._level(frame, samples)
        if weak and self._in_voice:
            self._last_voice_end = self.now_ms
        elif weak:
            self._speech_run += FRAME_MS
            self._strong_in_run = self._strong_in_run or strong
            if self._speech_run >= s.min_speech_ms and self._strong_in_run:
                self._in_voice = True
                self._last_voice_end = self.now_ms
                if self._greeting_start is None:
                    self._greeting_start = self.now_ms - self._speech_run
        else:
            self._speech_run, self._strong_in_run = 0, False
            # a dropout of one or two frames inside a word does not end the stretch of voice
            if self.now_ms - self._last_voice_end > VOICE_DROPOUT_MS:
                self._in_voice = False
        silent_ms = self.now_ms - self._last_voice_end
        start = self._greeting_start
        if start is not None:
            if self.now_ms - start >= s.max_human_greeting_ms and silent_ms < s.after_greeting_silence_ms:
                return self._decide(AmdResult.MACHINE, f"LONGGREETING-{self.now_ms - start}")
            if silent_ms >= s.after_greeting_silence_ms:
                return self._decide(AmdResult.HUMAN, f"HUMAN-{self._last_voice_end - start}-{silent_ms}")
        elif self.now_ms >= s.max_initial_silence_ms:
            return self._decide(AmdResult.NOTSURE, f"INITIALSILENCE-{self.now_ms}")
        if self.now_ms >= s.total_analysis_ms:
            return self._decide(AmdResult.NOTSURE, f"TOOLONG-{self.now_ms}")
        return None


@dataclass(frozen=True)
class AsteriskAmdSettings:
    """`app_amd`'s defaults, as in Asterisk's apps/app_amd.c (`dflt*`) and configs/samples/amd.conf.sample."""

    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    total_analysis_time_ms: int = 5000
    min_word_length_ms: int = 100
    between_words_silence_ms: int = 50
    maximum_number_of_words: int = 2  # MACHINE when the count exceeds it (3 before Asterisk 16 with ">=")
    silence_threshold: int = 256  # mean absolute sample value of a 16-bit frame below which it is silence
    maximum_word_length_ms: int = 5000


class AsteriskAmd(_StreamingDetector):
    """Asterisk's `app_amd` (isAnsweringMachine) frame loop with its silence detector (`ast_dsp_silence`:
    a frame is silent when its mean absolute sample is below the threshold), re-implemented here so the
    benchmark can compare with what VICIdial runs. The causes are Asterisk's AMDCAUSE strings."""

    IN_WORD, IN_SILENCE = 1, 2
    ENDED_CAUSE = "TOOLONG"  # app_amd's cause when the analysis ends undecided

    def __init__(self, rate: int = 8000, settings: AsteriskAmdSettings | None = None) -> None:
        self.s = settings or AsteriskAmdSettings()
        self._framer = _Framer(rate)
        self.now_ms = 0
        self.decision: Decision | None = None
        self._in_initial_silence = True
        self._in_greeting = False
        self._voice = 0
        self._silence = 0
        self._dsp_total_silence = 0
        self._words = 0
        self._state = self.IN_WORD  # as in app_amd: a greeting that starts at once counts no first word
        self._consecutive_voice = 0

    def _step(self, frame: bytes) -> Decision | None:
        s = self.s
        samples = np.frombuffer(frame, dtype="<i2").astype(np.int32)
        length = FRAME_MS
        self.now_ms += length
        if self.now_ms >= s.total_analysis_time_ms:
            return self._decide(AmdResult.NOTSURE, f"TOOLONG-{self.now_ms}")
        if int(np.abs(samples).sum()) // len(samples) < s.silence_threshold:
            self._dsp_total_silence += length
        else:
            self._dsp_total_silence = 0
        if self._dsp_total_silence > 0:
            self._silence = self._dsp_total_silence
            if self._silence >= s.between_words_silence_ms:
                self._state = self.IN_SILENCE
                self._consecutive_voice = 0
            if self._in_initial_silence and self._silence >= s.initial_silence_ms:
                return self._decide(
                    AmdResult.MACHINE, f"INITIALSILENCE-{self._silence}-{s.initial_silence_ms}"
                )
            if self._silence >= s.after_greeting_silence_ms and self._in_greeting:
                return self._decide(AmdResult.HUMAN, f"HUMAN-{self._silence}-{s.after_greeting_silence_ms}")
            return None
        self._consecutive_voice += length
        self._voice += length
        if self._consecutive_voice >= s.min_word_length_ms and self._state == self.IN_SILENCE:
            self._words += 1
            self._state = self.IN_WORD
        if self._consecutive_voice >= s.maximum_word_length_ms:
            return self._decide(AmdResult.MACHINE, f"MAXWORDLENGTH-{self._consecutive_voice}")
        if self._words > s.maximum_number_of_words:
            return self._decide(AmdResult.MACHINE, f"MAXWORDS-{self._words}-{s.maximum_number_of_words}")
        if self._in_greeting and self._voice >= s.greeting_ms:
            return self._decide(AmdResult.MACHINE, f"LONGGREETING-{self._voice}-{s.greeting_ms}")
        if self._voice >= s.min_word_length_ms:
            self._silence = 0
        if self._consecutive_voice >= s.min_word_length_ms and not self._in_greeting:
            self._in_initial_silence = False
            self._in_greeting = True
        return None


def classify(pcm: bytes, rate: int, detector: Detector | None = None) -> Decision:
    """Run a detector over a whole recording as if it arrived live, 20 ms at a time."""
    detector = detector or AmdDetector(rate)
    step = _check_rate(rate) * FRAME_MS // 1000 * 2
    for i in range(0, len(pcm), step):
        decision = detector.feed(pcm[i : i + step])
        if decision is not None:
            return decision
    return detector.finish()
