"""A labelled corpus of answers for measuring answering-machine detection: people and machines, spoken by
Debian's `espeak-ng`, mixed with `sox`, 8 kHz mono 16-bit PCM like a telephone leg.

Each sample is made from a seeded random choice (so one seed always gives the same corpus):
- people: a short leading silence (0.1-1.2 s; a few wait silently for 2-4 s), a greeting of one to a few
  words ("Hello?", "Yes?", "This is Maria"), then the silence of someone waiting for the caller, sometimes
  a second "Hello?";
- machines: a longer leading silence (0.3-3 s), a personal or carrier voicemail greeting of 3-25 s
  spoken sentence by sentence with the short pauses of a recording, with or without a beep (a 1-2 kHz
  tone) after it, then the silence of a recorder;
- several espeak-ng voices and speeds, background noise (none, white, pink, brown, mains hum) at several
  levels, and half of the samples through a G.711 mu-law round trip.

`Sample.greeting_end_ms` (the end of a person's first greeting) is what the benchmark measures the
decision delay from. The generator runs espeak-ng and sox as subprocesses; the corpus itself stays out of
git (`python -m dialer.media.corpus DIR` or `bench/amd.py` writes it under a cache directory).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

RATE = 8000
GENERATOR_VERSION = 2  # bump when the recipe changes, so cached corpora are made again

VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us+f3", "en-gb+f4", "en-us+m3")
SPEEDS = (130, 150, 170, 190)  # words per minute (espeak-ng's default is 175)
NOISES = ("none", "white", "pink", "brown", "hum")
NOISE_LEVELS_DB = (-50.0, -40.0, -32.0)  # noise peak level (dBFS); speech peaks at -12 to -4 dBFS, so the
# loudest noise (mean absolute sample 70-200) leaves about 15-30 dB between speech and noise: a poor line

PEOPLE_GREETINGS = (
    "Hello?",
    "Hello.",
    "Yes?",
    "Yeah?",
    "Hi.",
    "Hello, who is this?",
    "This is Maria.",
    "Maria speaking.",
    "Hello, this is John.",
    "Good morning.",
    "Hey, what's up?",
    "Smith residence.",
    "Hi, this is Sam.",
    "Yes, hello?",
    "Who's calling?",
    "Hello, Peter here.",
    "Good afternoon, Linda speaking.",
    "Hello, this is Maria speaking.",
)
PERSONAL_VOICEMAIL = (
    ("Hi, you've reached John.", "I can't come to the phone right now.", "Please leave a message."),
    ("Hey, it's Maria.", "Leave me a message and I'll call you back."),
    ("Hello, this is Sam.", "Sorry I missed your call.", "Leave your name and number after the tone."),
    (
        "Hi, you have reached the Smith family.",
        "We're not available to take your call.",
        "Please leave a message and we will get back to you as soon as possible.",
    ),
    (
        "This is Linda.",
        "I'm away from my desk.",
        "Leave a message, or call my office number.",
        "Thanks, and have a great day.",
    ),
    ("Hello.", "You've reached Peter and Anna.", "We can't answer right now.", "Leave a message."),
    ("Hey, this is Mike.", "You know what to do."),
)
CARRIER_VOICEMAIL = (
    (
        "The person you are calling is not available.",
        "At the tone, please record your message.",
        "When you have finished recording, you may hang up, or press one for more options.",
    ),
    ("The number you have dialed is not available.", "Please leave a message after the tone."),
    (
        "Your call has been forwarded to an automatic voice message system.",
        "The person you are trying to reach is not available.",
        "At the tone, please record your message.",
        "When you are finished, you may hang up or press pound for more options.",
    ),
    (
        "The subscriber you have called is not available right now.",
        "Please leave your message after the beep.",
    ),
    (
        "Welcome to the voice mail service.",
        "The mailbox of",
        "five five five, one two three four",
        "is not available.",
        "Please record your message after the tone.",
        "To send a page, press five.",
    ),
)

GREETING_EXTRAS = (
    "For urgent matters, please call my mobile.",
    "You can also send me an email.",
    "I check my messages every day.",
    "Please speak slowly and clearly.",
    "Remember to leave your phone number.",
    "Office hours are nine to five, Monday to Friday.",
    "Thank you for calling.",
    "Have a wonderful day.",
)


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # "human" or "machine"
    file: str  # relative to the corpus directory
    voice: str
    speed: int
    noise: str
    noise_db: float
    g711: bool
    beep: bool
    leading_silence_ms: int
    greeting_end_ms: int  # end of the first greeting (people) or of the whole message (machines)
    duration_ms: int
    text: str


class CorpusError(RuntimeError):
    pass


def tools_present() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def speak(text: str, voice: str, speed: int) -> np.ndarray:
    """The words as 8 kHz int16 samples, leading and trailing silence trimmed (we place our own)."""
    if not tools_present():
        raise CorpusError("the AMD corpus needs Debian's espeak-ng and sox (./run tests installs them)")
    spoken = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", "-"],
        input=spoken,
        capture_output=True,
        check=True,
    ).stdout
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > 300)[0]
    if len(loud) == 0:
        return pcm
    return pcm[loud[0] : loud[-1] + 1]


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def beep(hz: float, ms: int, amplitude: float = 9000.0) -> np.ndarray:
    n = np.arange(RATE * ms // 1000)
    ramp = np.minimum(1.0, np.minimum(n, n[::-1]) / (0.005 * RATE))  # 5 ms edges, no click
    return (amplitude * ramp * np.sin(2 * np.pi * hz * n / RATE)).astype(np.int16)


def normalise(pcm: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.max(np.abs(pcm.astype(np.int32)))) if len(pcm) else 0.0
    if top == 0:
        return pcm
    return np.clip(pcm.astype(np.float64) * (peak / top), -32768, 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.astype("<i2").tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as src:
        return np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(
            np.int16
        ), src.getframerate()


def finish_with_sox(
    clean: np.ndarray, out: Path, *, noise: str, noise_db: float, g711: bool, seed: int
) -> None:
    """Mix the background noise in and pass the line codec, both with sox."""
    with tempfile.TemporaryDirectory() as tmp:
        speech = Path(tmp) / "speech.wav"
        write_wav(speech, clean)
        seconds = f"{len(clean) / RATE:.3f}"
        mixed = Path(tmp) / "mixed.wav"
        if noise == "none":
            shutil.copy(speech, mixed)
        else:
            # sox's own noise is seeded by -R (repeatable); a seeded offset into a longer run varies it per sample
            offset = f"{random.Random(seed).uniform(0, 20):.3f}"
            gain = 10 ** (noise_db / 20)
            if noise == "hum":
                source = f"sox -R -n -r {RATE} -c 1 -b 16 -p synth {seconds} sine 60 sine 180 vol {gain:.5f}"
            else:
                source = (
                    f"sox -R -n -r {RATE} -c 1 -b 16 -p synth 0:40 {noise}noise "
                    f"trim {offset} {seconds} vol {gain:.5f}"
                )
            subprocess.run(
                ["sox", "-R", "-m", str(speech), f"|{source}", str(mixed)], check=True, capture_output=True
            )
        if g711:
            coded = Path(tmp) / "coded.wav"
            subprocess.run(
                ["sox", "-R", str(mixed), "-e", "u-law", str(coded)], check=True, capture_output=True
            )
            subprocess.run(
                ["sox", "-R", str(coded), "-e", "signed", "-b", "16", str(out)],
                check=True,
                capture_output=True,
            )
        else:
            subprocess.run(["sox", "-R", str(mixed), "-b", "16", str(out)], check=True, capture_output=True)


def person(rng: random.Random, voice: str, speed: int) -> tuple[list[np.ndarray], int, int, str]:
    """(parts, leading silence, end of the first greeting, text) of one person answering."""
    lead = rng.randint(2000, 4000) if rng.random() < 0.04 else rng.randint(100, 1200)
    text = rng.choice(PEOPLE_GREETINGS)
    words = speak(text, voice, speed)
    parts = [silence(lead), words]
    greeting_end = lead + len(words) * 1000 // RATE
    if rng.random() < 0.3:  # nobody answered them: "Hello?" again
        again_text = rng.choice(("Hello?", "Hello? Anyone there?", "Hello? Who is this?"))
        parts += [silence(rng.randint(1500, 2500)), speak(again_text, voice, speed)]
        text += " ... " + again_text
    parts.append(silence(rng.randint(2500, 4000)))
    return parts, lead, greeting_end, text


def machine(rng: random.Random, voice: str, speed: int) -> tuple[list[np.ndarray], int, int, str, bool]:
    lead = rng.randint(300, 3000)
    sentences = list(rng.choice(PERSONAL_VOICEMAIL if rng.random() < 0.6 else CARRIER_VOICEMAIL))
    parts = [silence(lead)]
    for i, sentence in enumerate(sentences):
        if i:
            parts.append(silence(rng.randint(150, 650)))
        parts.append(speak(sentence, voice, speed))
    spoken_ms = sum(len(p) for p in parts) * 1000 // RATE
    # Recorded greetings run 3-25 s: some go on with more sentences up to a drawn length
    target = lead + rng.choice((3000, 3000, 6000, 10000, 15000, 25000))
    extras = list(GREETING_EXTRAS)
    rng.shuffle(extras)
    while spoken_ms < target and extras:
        sentence = extras.pop()
        parts += [silence(rng.randint(200, 600)), speak(sentence, voice, speed)]
        sentences.append(sentence)
        spoken_ms = sum(len(p) for p in parts) * 1000 // RATE
    end = spoken_ms
    with_beep = rng.random() < 0.7
    if with_beep:
        parts += [
            silence(rng.randint(200, 900)),
            beep(rng.choice((1000.0, 1400.0, 1700.0, 2000.0)), rng.randint(250, 1000)),
        ]
    parts.append(silence(rng.randint(2000, 3000)))
    return parts, lead, end, " ".join(sentences), with_beep


def generate(directory: Path, *, people: int, machines: int, seed: int) -> list[Sample]:
    """Write the corpus (WAV files and `manifest.json`) into `directory`, or reuse it if it is there."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.json"
    key = {"version": GENERATOR_VERSION, "people": people, "machines": machines, "seed": seed}
    if manifest.exists():
        stored = json.loads(manifest.read_text())
        if stored.get("key") == key:
            return [Sample(**s) for s in stored["samples"]]
    samples = list(iter_samples(directory, people=people, machines=machines, seed=seed))
    manifest.write_text(json.dumps({"key": key, "samples": [asdict(s) for s in samples]}, indent=1))
    return samples


def iter_samples(directory: Path, *, people: int, machines: int, seed: int) -> Iterator[Sample]:
    rng = random.Random(seed)
    for i in range(people + machines):
        kind = "human" if i < people else "machine"
        voice_rng = random.Random(rng.random())
        noise = rng.choice(NOISES)
        noise_db = rng.choice(NOISE_LEVELS_DB) if noise != "none" else 0.0
        g711 = rng.random() < 0.5
        voice, speed = rng.choice(VOICES), rng.choice(SPEEDS)
        if kind == "human":
            parts, lead, end, text = person(voice_rng, voice, speed)
            with_beep = False
        else:
            parts, lead, end, text, with_beep = machine(voice_rng, voice, speed)
        voice_state = random.Random(voice_rng.random())
        clean = normalise(np.concatenate(parts), peak=voice_state.uniform(8000, 20000))
        name = f"{kind}-{i:04d}"
        finish_with_sox(
            clean, directory / f"{name}.wav", noise=noise, noise_db=noise_db, g711=g711, seed=seed + i
        )
        yield Sample(
            name=name,
            kind=kind,
            file=f"{name}.wav",
            voice=voice,
            speed=speed,
            noise=noise,
            noise_db=noise_db,
            g711=g711,
            beep=with_beep,
            leading_silence_ms=lead,
            greeting_end_ms=end,
            duration_ms=len(clean) * 1000 // RATE,
            text=text,
        )


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/amd-corpus")
    made = generate(
        out,
        people=int(sys.argv[2]) if len(sys.argv) > 2 else 300,
        machines=int(sys.argv[3]) if len(sys.argv) > 3 else 200,
        seed=1,
    )
    print(f"{len(made)} samples in {out}")
