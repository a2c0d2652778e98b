"""AMD on a live call without SIP: a recording that grows as a pjsua2 recorder writes it (header first,
then 4 KB blocks) is read as it grows, the decision and the greeting's end are placed on the wall clock,
how late the audio was seen is measured, and a machine's voicemail cue (its beep's end, or the end of a
greeting without one) comes only once the greeting is over. Also the consent rule for leaving a message."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from dialer.media import corpus
from dialer.media.amd import AmdError, AmdResult, AmdSettings, campaign_amd, voicemail_drop
from dialer.media.live_amd import VOICEMAIL_SILENCE_MS, LiveAmd, VoicemailCue
from dnc.verdicts import prerecorded_message_allowed

RATE = corpus.RATE
BLOCK = 4096  # what pjmedia's WAV writer flushes at a time
T0 = 1_800_000_000.0


def _header() -> bytes:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, 2 * RATE, 2, 16)
    return b"RIFF" + bytes(4) + b"WAVE" + b"fmt " + fmt + b"data" + bytes(4)


def _play(amd: LiveAmd, path: Path, pcm: np.ndarray, until: object = None) -> float:
    """Write `pcm` as the recorder would in real time (a block once it is full) and poll every 40 ms of
    the wall clock; returns the clock at the end."""
    data, written, now = pcm.astype("<i2").tobytes(), 0, T0
    path.write_bytes(_header())
    while written < len(data) and not amd.done:
        now += 0.04
        due = min(len(data), int((now - T0) * RATE) * 2)
        with path.open("ab") as out:
            while due - written >= BLOCK or (due == len(data) and written < due):
                out.write(data[written : written + BLOCK])
                written += min(BLOCK, len(data) - written)
        amd.poll(now)
    return now


def test_a_person_is_decided_as_the_file_grows_with_the_greeting_end_on_the_wall_clock(
    tmp_path: Path,
) -> None:
    words = corpus.speak("Hello, this is Maria.", "en-us", 160)
    pcm = corpus.normalise(np.concatenate([corpus.silence(500), words, corpus.silence(3000)]), 12000)
    path = tmp_path / "call.wav"
    amd = LiveAmd(path, AmdSettings(), started_at=T0, voicemail=False)
    _play(amd, path, pcm)
    assert amd.decision is not None and amd.decision.result is AmdResult.HUMAN
    greeting_end = T0 + (500 + len(words) * 1000 // RATE) / 1000
    assert abs(amd.greeting_ended_at - greeting_end) <= 0.06
    # 4 KB blocks are a quarter second of 8 kHz audio: the audio is seen up to that late, never more
    assert 0 <= amd.lag_ms <= 256 + 40 and amd.max_lag_ms <= 256 + 40
    assert amd.done


def test_a_machine_that_gets_the_message_waits_for_the_end_of_its_beep(tmp_path: Path) -> None:
    greeting = corpus.speak(
        "Hi, you have reached John. I can't come to the phone right now. Please leave a message.",
        "en-gb",
        160,
    )
    parts = [corpus.silence(300), greeting, corpus.silence(400)]
    beep_end_ms = sum(len(p) for p in parts) * 1000 // RATE + 600
    pcm = np.concatenate([*parts, corpus.beep(1400.0, 600), corpus.silence(4000)])
    path = tmp_path / "machine.wav"
    amd = LiveAmd(path, AmdSettings(), started_at=T0, voicemail=True)
    now = _play(amd, path, pcm)
    assert amd.decision is not None and amd.decision.result is AmdResult.MACHINE
    assert amd.decision.decided_at_ms < beep_end_ms - 600  # decided on the greeting's length, before the beep
    assert amd.cue == "beep" and amd.done
    assert beep_end_ms / 1000 <= now - T0 <= beep_end_ms / 1000 + 0.35  # right after it, not during


def test_without_a_beep_the_message_starts_once_the_greeting_has_been_silent_long_enough() -> None:
    greeting = corpus.speak("You have reached the voicemail of 2 0 2 5 5 5 0 1 4 4.", "en-us", 150)
    cue = VoicemailCue(RATE)
    assert cue.feed(greeting.astype("<i2").tobytes()) is None  # still talking
    assert cue.feed(corpus.silence(VOICEMAIL_SILENCE_MS - 100).astype("<i2").tobytes()) is None
    assert cue.feed(corpus.silence(200).astype("<i2").tobytes()) == "silence"


def test_a_message_is_left_only_with_express_written_consent_and_when_the_campaign_asks() -> None:
    assert prerecorded_message_allowed("express_written")
    assert not any(prerecorded_message_allowed(c) for c in ("express", "none", "", "EXPRESS_WRITTEN"))
    assert voicemail_drop({"enabled": True, "voicemail_drop": True})
    assert not voicemail_drop({"enabled": False, "voicemail_drop": True})  # no AMD, no machine to leave it on
    assert not voicemail_drop({"enabled": True})
    with pytest.raises(
        AmdError, match=re.escape("amd_settings.voicemail_drop: 'yes' must be true or false")
    ) as err:
        campaign_amd({"enabled": True, "voicemail_drop": "yes"})
    assert err.value.field == "amd_settings.voicemail_drop"
