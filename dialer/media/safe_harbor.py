"""A campaign's own safe-harbor message: an uploaded WAV, checked and stored per organization.

The law's safe-harbor message (played when no agent is free within 2 s of the answer) must identify the
seller and give the opt-out key; the line worker plays it through the 8/16 kHz conference bridge, so
only PCM mono WAV at 8 or 16 kHz, 2 to 30 seconds long, is accepted. The file lives under
`$CLEARLINE_HOME/safe-harbor/<org id>/<campaign id>.wav`: the campaign only ever refers to the stored
copy, never to a path a user typed.
"""

from __future__ import annotations

import os
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from campaigns.models import Campaign
from core.errors import ValidationError

SAMPLE_RATES = (8000, 16000)
MIN_SECONDS, MAX_SECONDS = 2.0, 30.0
MAX_BYTES = int(MAX_SECONDS * 16000 * 2) + 64 * 1024  # the longest allowed message plus generous headers


@dataclass(frozen=True)
class SafeHarborMessage:
    sample_rate: int
    seconds: float


def check_safe_harbor_wav(path: Path) -> SafeHarborMessage:
    """The message's format, or ValidationError saying which rule the file breaks."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate, frames = (
                wav.getnchannels(),
                wav.getsampwidth(),
                wav.getframerate(),
                wav.getnframes(),
            )
            compression = wav.getcomptype()
    except (wave.Error, EOFError) as exc:
        raise ValidationError(f"not a PCM WAV file ({exc})", field="file") from exc
    if compression != "NONE" or width != 2:
        raise ValidationError(
            f"the message must be 16-bit PCM, not {width * 8}-bit {compression}", field="file"
        )
    if channels != 1:
        raise ValidationError(f"the message must be mono, not {channels} channels", field="file")
    if rate not in SAMPLE_RATES:
        raise ValidationError(f"the message must be sampled at 8000 or 16000 Hz, not {rate} Hz", field="file")
    seconds = frames / rate
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValidationError(
            f"the message lasts {seconds:.1f} s; it must last {MIN_SECONDS:g} to {MAX_SECONDS:g} s",
            field="file",
        )
    return SafeHarborMessage(rate, round(seconds, 2))


def safe_harbor_dir(home: Path, org_id: uuid.UUID) -> Path:
    path = home / "safe-harbor" / str(org_id)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def store_safe_harbor(
    home: Path, org_id: uuid.UUID, campaign_id: uuid.UUID, upload: Path
) -> tuple[Path, SafeHarborMessage]:
    """Check an uploaded file and make it the campaign's message (replacing any earlier one); the upload
    is consumed either way."""
    try:
        message = check_safe_harbor_wav(upload)
        target = safe_harbor_dir(home, org_id) / f"{campaign_id}.wav"
        os.chmod(upload, 0o600)
        os.replace(upload, target)
    finally:
        upload.unlink(missing_ok=True)
    return target, message


def set_campaign_message(session: Session, campaign: Campaign, home: Path, upload: Path) -> SafeHarborMessage:
    """Make an uploaded file the campaign's safe-harbor message (the API's upload route and the console
    both call this); a file that breaks a rule is refused with the rule and nothing changes."""
    path, message = store_safe_harbor(home, campaign.org_id, campaign.id, upload)
    campaign.safe_harbor_wav = str(path)
    session.flush()
    return message
