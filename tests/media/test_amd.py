"""Answering-machine detection on audio made here with espeak-ng and sox: people, machines, beeps, noise,
streaming, both sample rates, the app_amd baseline's timing rules, and the CLI as a user runs it."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dialer.media import corpus
from dialer.media.amd import (
    AmdDetector,
    AmdError,
    AmdResult,
    AmdSettings,
    AsteriskAmd,
    BeepDetector,
    classify,
)

RATE = corpus.RATE


def spoken(*parts: str | int) -> tuple[np.ndarray, list[int]]:
    """Text is spoken (en-us, 170 wpm), ints are silences in ms; also returns where each speech ends."""
    pieces, ends, at = [], [], 0
    for part in parts:
        piece = corpus.silence(part) if isinstance(part, int) else corpus.speak(part, "en-us", 170)
        pieces.append(piece)
        at += len(piece)
        if not isinstance(part, int):
            ends.append(at * 1000 // RATE)
    return corpus.normalise(np.concatenate(pieces), peak=12000), ends


def through_line(pcm: np.ndarray, tmp_path: Path, noise: str = "none", noise_db: float = 0.0) -> bytes:
    """The audio mixed with noise and passed through G.711 by sox, as the corpus does."""
    out = tmp_path / "line.wav"
    corpus.finish_with_sox(pcm, out, noise=noise, noise_db=noise_db, g711=True, seed=5)
    return corpus.read_wav(out)[0].tobytes()


def test_a_person_saying_hello_is_human_within_a_second_of_their_greeting(tmp_path: Path) -> None:
    pcm, ends = spoken(400, "Hello?", 3000)
    decision = classify(through_line(pcm, tmp_path), RATE)
    assert decision.result is AmdResult.HUMAN, decision
    assert 0 < decision.decided_at_ms - ends[0] <= 1000


def test_a_person_on_a_noisy_line_is_human_where_app_amd_hangs_up(tmp_path: Path) -> None:
    pcm, ends = spoken(300, "Hello?", 3500)
    audio = through_line(pcm, tmp_path, noise="brown", noise_db=-24.0)  # rumble louder than the corpus has
    ours = classify(audio, RATE)
    assert ours.result is AmdResult.HUMAN, ours
    assert ours.decided_at_ms - ends[0] <= 1000
    # app_amd's fixed silence threshold (256) hears this noise as voice: a long greeting, "machine"
    baseline = classify(audio, RATE, AsteriskAmd(RATE))
    assert (baseline.result, baseline.cause) == (AmdResult.MACHINE, "LONGGREETING-1500-1500")


def test_a_carrier_voicemail_is_a_machine_before_it_ends(tmp_path: Path) -> None:
    pcm, ends = spoken(
        900,
        "The person you are calling is not available.",
        400,
        "At the tone, please record your message.",
        2000,
    )
    decision = classify(through_line(pcm, tmp_path, noise="pink", noise_db=-40.0), RATE)
    assert decision.result is AmdResult.MACHINE, decision
    assert decision.cause.startswith("LONGGREETING")
    assert decision.decided_at_ms < ends[-1]


def test_the_beep_decides_a_short_greeting_that_timing_alone_takes_for_a_person(tmp_path: Path) -> None:
    pcm, _ = spoken(500, "Leave a message.", 2500)
    without = classify(through_line(pcm, tmp_path), RATE)
    assert without.result is AmdResult.HUMAN, without
    message, ends = spoken(500, "Leave a message.", 300)
    with_beep = np.concatenate([message, corpus.beep(1400.0, 500), corpus.silence(2500)])
    decision = classify(through_line(with_beep, tmp_path), RATE)
    assert decision.result is AmdResult.MACHINE, decision
    assert decision.cause == "BEEP"
    assert ends[-1] + 300 < decision.decided_at_ms <= ends[-1] + 300 + 300


@pytest.mark.parametrize("hz", [1000.0, 1400.0, 1730.0, 2000.0])
def test_the_beep_detector_finds_a_steady_tone_of_1_to_2_khz(hz: float) -> None:
    detector = BeepDetector(RATE, min_beep_ms=160)
    tone = corpus.beep(hz, 400, amplitude=3000.0)
    hits = [detector.push(tone[i : i + 160]) for i in range(0, len(tone) - 159, 160)]
    assert hits.index(True) == 7  # the eighth 20 ms frame completes 160 ms
    assert hits.count(True) == 1


def test_the_beep_detector_ignores_speech_and_tones_outside_the_band() -> None:
    detector = BeepDetector(RATE, min_beep_ms=160)
    words, _ = spoken("Hello, you have reached the voicemail of Maria Gonzalez, leave a message.")
    low = corpus.beep(440.0, 600)
    for audio in (words, low):
        assert not any(detector.push(audio[i : i + 160]) for i in range(0, len(audio) - 159, 160))


def test_fed_in_uneven_chunks_or_at_16_khz_the_decision_is_the_same(tmp_path: Path) -> None:
    pcm, _ = spoken(400, "Yes?", 3000)
    audio = through_line(pcm, tmp_path)
    whole = classify(audio, RATE)
    detector = AmdDetector(RATE)
    streamed = None
    for start in range(0, len(audio), 333):  # odd byte counts: half samples carry over
        streamed = detector.feed(audio[start : start + 333]) or streamed
        if streamed:
            break
    assert streamed == whole
    wide = tmp_path / "wide.wav"
    subprocess.run(["sox", str(tmp_path / "line.wav"), "-r", "16000", str(wide)], check=True)
    pcm16, rate16 = corpus.read_wav(wide)
    at16 = classify(pcm16.tobytes(), rate16)
    assert at16.result is whole.result
    assert abs(at16.decided_at_ms - whole.decided_at_ms) <= 60


def test_silence_is_notsure_never_machine() -> None:
    decision = classify(bytes(2 * RATE * 9), RATE)
    assert (decision.result, decision.cause) == (AmdResult.NOTSURE, "INITIALSILENCE-5000")
    assert classify(bytes(2 * RATE * 2), RATE).cause == "ENDED-2000"  # the callee hung up first


def _bursts(*pattern: tuple[str, int]) -> bytes:
    """Silence or a loud 500 Hz tone (mean absolute value far over app_amd's 256), in ms."""
    out = [
        np.zeros(RATE * ms // 1000) if kind == "-" else corpus.beep(500.0, ms, 4000.0) for kind, ms in pattern
    ]
    return np.concatenate(out).astype("<i2").tobytes()


def test_app_amd_baseline_follows_asterisk_timing_rules() -> None:
    human = classify(_bursts(("-", 500), ("v", 400), ("-", 2000)), RATE, AsteriskAmd(RATE))
    assert (human.result, human.cause, human.decided_at_ms) == (AmdResult.HUMAN, "HUMAN-800-800", 1700)
    words = classify(
        _bursts(("-", 300), ("v", 200), ("-", 100), ("v", 200), ("-", 100), ("v", 200), ("-", 3000)),
        RATE,
        AsteriskAmd(RATE),
    )
    # the third word exceeds maximum_number_of_words (2) once it is 100 ms long
    assert (words.result, words.cause, words.decided_at_ms) == (AmdResult.MACHINE, "MAXWORDS-3-2", 1000)
    quiet = classify(_bursts(("-", 4000)), RATE, AsteriskAmd(RATE))
    assert (quiet.result, quiet.cause, quiet.decided_at_ms) == (
        AmdResult.MACHINE,
        "INITIALSILENCE-2500-2500",
        2500,
    )
    long = classify(_bursts(("-", 200), ("v", 3000)), RATE, AsteriskAmd(RATE))
    assert (long.result, long.cause, long.decided_at_ms) == (
        AmdResult.MACHINE,
        "LONGGREETING-1500-1500",
        1700,
    )


def test_settings_are_checked_with_the_field_the_value_and_the_rule() -> None:
    with pytest.raises(
        AmdError, match=r"after_greeting_silence_ms: 100 must be a whole number from 300 to 3000"
    ):
        AmdSettings(after_greeting_silence_ms=100).validate()
    with pytest.raises(AmdError, match=r"unknown field 'greeting'"):
        AmdSettings.from_dict({"greeting": 1500})
    with pytest.raises(AmdError, match=r"max_initial_silence_ms: 9000 must be less than total_analysis_ms"):
        AmdSettings.from_dict({"max_initial_silence_ms": 9000})
    with pytest.raises(AmdError, match=r"sample rate 44100 Hz"):
        AmdDetector(44100)


def _clearline(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearline.cli", "amd", "classify", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_classifies_a_recording_and_refuses_other_formats(repo_root: Path, tmp_path: Path) -> None:
    pcm, _ = spoken(600, "Hi, you've reached John.", 300, "Please leave a message after the tone.", 300)
    machine = tmp_path / "machine.wav"
    corpus.write_wav(machine, np.concatenate([pcm, corpus.beep(1000.0, 600), corpus.silence(2000)]))
    out = _clearline(repo_root, str(machine), "--json")
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert set(decision) == {"result", "cause", "decided_at_ms"}
    assert decision["result"] == "machine"
    assert decision == classify(corpus.read_wav(machine)[0].tobytes(), RATE).as_dict()
    person, _ = spoken(300, "Hello?", 3000)
    hello = tmp_path / "hello.wav"
    corpus.write_wav(hello, person)
    text = _clearline(repo_root, str(hello))
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("human (HUMAN-")
    stereo = tmp_path / "stereo.wav"
    subprocess.run(["sox", str(hello), "-c", "2", str(stereo)], check=True)
    refused = _clearline(repo_root, str(stereo))
    assert refused.returncode == 2
    assert f"{stereo}: 2 channels; AMD reads mono" in refused.stderr
    ulaw = tmp_path / "ulaw.wav"
    subprocess.run(["sox", str(hello), "-e", "u-law", str(ulaw)], check=True)
    assert "G.711 mu-law WAV; AMD reads 16-bit PCM WAV" in _clearline(repo_root, str(ulaw)).stderr
    bad = _clearline(repo_root, str(hello), "--set", "min_speech_ms=5")
    assert bad.returncode == 2
    assert "min_speech_ms: 5 must be a whole number from 20 to 500" in bad.stderr


def test_a_growing_recording_is_read_as_it_is_written(tmp_path: Path) -> None:
    """As a pjsua2 recorder writes it: the header first, sizes not filled in, then blocks of samples."""
    from dialer.media.wav import GrowingWav

    pcm, _ = spoken(400, "Hello?", 3000)
    data = pcm.astype("<i2").tobytes()
    path = tmp_path / "live.wav"
    header = b"RIFF" + bytes(4) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, 2 * RATE, 2, 16)
    path.write_bytes(header + b"data" + bytes(4))
    reader = GrowingWav(path)
    detector = AmdDetector(reader.rate)
    decision = None
    with path.open("ab") as out:
        for start in range(0, len(data), 4095):  # odd-sized blocks: a half sample waits for the next read
            out.write(data[start : start + 4095])
            out.flush()
            decision = detector.feed(reader.read_new()) or decision
    assert reader.samples_read == len(pcm)
    assert decision == classify(data, RATE)
