"""A campaign's own safe-harbor message: an uploaded WAV, checked and stored per organization.

The law's safe-harbor message (played when no agent is free within 2 s of the answer) must identify the
seller and give the opt-out key; the line worker plays it through the 8/16 kHz conference bridge, so
only PCM mono WAV at 8 or 16 kHz, 2 to 30 seconds long, is accepted. Every message (uploaded or
generated) is kept once per organization in the shared file store under
`safe-harbor/<org id>/<sha256>.wav` (`kept_key`), so a line worker or API on any host reaches it: the
campaign and the kept copy's row name that key, never a path a user typed. A process that plays it
(pjsua2 needs a WAV path) fetches it once into its host's cache, `$CLEARLINE_HOME/cache/safe-harbor/`
(`local_wav`). Rows from before the store name an absolute path on the host that wrote them.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, SafeHarborMessageCopy
from core.errors import ValidationError
from core.file_store import FileStore, cached_copy, file_chunks
from core.models import Organization
from dialer.media import DEFAULT_SAFE_HARBOR_WAV, speech

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


def upload_dir(home: Path) -> Path:
    """Where this host receives an uploaded message for the moment it is checked and stored."""
    path = home / "safe-harbor" / "incoming"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def kept_key(org_id: uuid.UUID, sha256: str) -> str:
    """The shared file store key of an organization's kept message."""
    return f"safe-harbor/{org_id}/{sha256}.wav"


def is_stored(ref: str) -> bool:
    """A message reference names a key of the shared store (else an absolute path, as older rows do)."""
    return not ref.startswith("/")


def cache_dir(home: Path) -> Path:
    return home / "cache" / "safe-harbor"


def local_wav(store: FileStore, home: Path, ref: str, sha256: str) -> Path:
    """A WAV path this host can play for the message `ref`: fetched from the store into this host's
    cache on first use (checked against `sha256`), or the old row's own path."""
    if not is_stored(ref):
        return Path(ref)
    return cached_copy(store, ref, sha256, cache_dir(home), suffix=".wav")


def message_chunks(store: FileStore, ref: str) -> Iterator[bytes]:
    """The message's bytes, wherever it is kept."""
    return store.open(ref) if is_stored(ref) else file_chunks(Path(ref))


def set_campaign_message(
    session: Session, campaign: Campaign, store: FileStore, upload: Path
) -> SafeHarborMessage:
    """Make an uploaded file the campaign's safe-harbor message (the API's upload route and the console
    both call this); a file that breaks a rule is refused with the rule and nothing changes. A recorded
    message wins over the generated one from then on. The upload is consumed either way."""
    try:
        message = check_safe_harbor_wav(upload)
        kept = keep_message(
            session, store, campaign.org_id, upload, source="uploaded", campaign_id=campaign.id
        )
    finally:
        upload.unlink(missing_ok=True)
    campaign.safe_harbor_wav = kept.path
    campaign.safe_harbor_source, campaign.safe_harbor_sha256 = "uploaded", kept.sha256
    session.flush()
    return message


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


DEFAULT_SHA256 = sha256_of(DEFAULT_SAFE_HARBOR_WAV)


def keep_message(
    session: Session,
    store: FileStore,
    org_id: uuid.UUID,
    wav: Path,
    *,
    source: str,
    text: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> SafeHarborMessageCopy:
    """The kept copy of a message (2024 TSR record-keeping): stored once per organization under the
    sha256 of its bytes in the shared file store, never overwritten, so the exact audio any attempt names
    stays retrievable from every host."""
    message = check_safe_harbor_wav(wav)
    sha = sha256_of(wav)
    kept = session.scalars(
        select(SafeHarborMessageCopy).where(
            SafeHarborMessageCopy.org_id == org_id, SafeHarborMessageCopy.sha256 == sha
        )
    ).one_or_none()
    if kept is not None:
        return kept
    key = kept_key(org_id, sha)
    stored = store.put(key, file_chunks(wav), org_id=org_id)
    if stored.sha256 != sha:
        raise ValidationError(
            f"the message changed while it was stored ({stored.sha256} != {sha})", field="file"
        )
    kept = SafeHarborMessageCopy(
        org_id=org_id,
        sha256=sha,
        source=source,
        text=text,
        path=key,
        size_bytes=stored.size,
        seconds=message.seconds,
        campaign_id=campaign_id,
    )
    session.add(kept)
    session.flush()
    return kept


def generate_campaign_message(
    session: Session, campaign: Campaign, store: FileStore
) -> SafeHarborMessageCopy | None:
    """Speak the campaign's message from its seller, callback number and opt-out key and make it the
    campaign's message, unless it has a recorded one (which wins) or no callback number (then nothing is
    generated and the readiness check says why). The same words give the same kept copy."""
    if campaign.safe_harbor_source == "uploaded" or not campaign.safe_harbor_callback_number:
        return None
    seller = campaign.seller or _org_name(session, campaign.org_id)
    text = speech.safe_harbor_text(seller, campaign.safe_harbor_callback_number, campaign.opt_out_key)
    current = kept_message(session, campaign.safe_harbor_sha256) if campaign.safe_harbor_sha256 else None
    if campaign.safe_harbor_source == "generated" and current is not None and current.text == text:
        return current  # the same words: no need to speak them again
    with tempfile.TemporaryDirectory(prefix="clearline-safe-harbor-") as tmp:
        wav = Path(tmp) / "message.wav"
        speech.synthesize(text, wav)
        try:
            check_safe_harbor_wav(wav)
        except ValidationError as exc:  # e.g. a seller's name so long the message outlasts 30 s
            raise ValidationError(
                f"the generated safe-harbor message is refused: {exc}", field="seller"
            ) from exc
        kept = keep_message(
            session, store, campaign.org_id, wav, source="generated", text=text, campaign_id=campaign.id
        )
    campaign.safe_harbor_wav = kept.path
    campaign.safe_harbor_source, campaign.safe_harbor_sha256 = "generated", kept.sha256
    session.flush()
    return kept


def _org_name(session: Session, org_id: uuid.UUID) -> str:
    org = session.get(Organization, org_id)
    return org.name if org is not None else ""


def kept_message(session: Session, sha256: str) -> SafeHarborMessageCopy | None:
    """A kept copy by its sha256, within the session's organization scope."""
    return session.scalars(
        select(SafeHarborMessageCopy).where(SafeHarborMessageCopy.sha256 == sha256)
    ).first()
