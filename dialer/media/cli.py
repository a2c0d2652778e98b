"""`clearline amd classify FILE.wav`: the detector the line worker runs, on a recording, so a campaign can
be tuned on its own calls. Needs no database."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dialer.media.amd import AmdDetector, AmdError, AmdSettings, AsteriskAmd, Detector, classify
from dialer.media.wav import read_pcm_wav


@click.group("amd")
def amd_group() -> None:
    """Answering-machine detection on recordings (docs/media.md)."""


def _settings(pairs: tuple[str, ...]) -> AmdSettings:
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise AmdError(f"--set {pair!r}: expected NAME=VALUE, e.g. after_greeting_silence_ms=900")
        if raw.lower() in ("true", "false"):
            values[key] = raw.lower() == "true"
            continue
        try:
            values[key] = int(raw)
        except ValueError:
            raise AmdError(f"AMD setting {key}: {raw!r} must be a whole number") from None
    return AmdSettings.from_dict(values)


@amd_group.command("classify")
@click.argument("wav", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--baseline", is_flag=True, help="Run Asterisk app_amd's algorithm (defaults) instead.")
@click.option("--set", "pairs", multiple=True, metavar="NAME=VALUE", help="A detector threshold, repeatable.")
def classify_command(wav: Path, as_json: bool, baseline: bool, pairs: tuple[str, ...]) -> None:
    """Say whether the recording's answer is a human, a machine or not sure, with the cause and the time
    (ms from the start of the file) the detector decided at. 8 or 16 kHz mono 16-bit PCM WAV."""
    settings = _settings(pairs)
    pcm, rate = read_pcm_wav(wav)
    detector: Detector = AsteriskAmd(rate) if baseline else AmdDetector(rate, settings)
    decision = classify(pcm, rate, detector)
    if as_json:
        click.echo(json.dumps(decision.as_dict()))
    else:
        click.echo(f"{decision.result.value} ({decision.cause}) decided at {decision.decided_at_ms} ms")


COMMANDS: list[click.Command] = [amd_group]
