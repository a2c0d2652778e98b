"""Call recordings: encrypted at rest per organization, stored through the file store, linked to their
attempt, read only by the roles allowed to, every read audited, removed by the retention job.

The line worker records the bridged conversation (both sides mixed into one 8 kHz WAV) to a spool file
of its host; the engine hands it to `store_recording`, which encrypts it as it streams it into
`runtime.files` and writes the attempt's `CallRecording` row. The spool file is removed once stored.

Format of a stored recording (`CRv1`): the magic `b"CRv1"`, an 8-byte random nonce prefix, then chunks of
at most `CHUNK_BYTES` plaintext, each `len (4 bytes, big-endian) || AES-256-GCM ciphertext` under the
organization's key (`core.encryption.derived_cipher`), nonce = prefix || chunk number (4 bytes), associated
data = attempt id || chunk number || last-chunk flag. So a chunk cannot be moved, dropped, reordered or
truncated, a file copied onto another attempt or organization does not decrypt, and a reader streams it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import uuid
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, CallRecording, RecordingStatus
from core import audit, retention
from core.db import ALL_ORGS, Database
from core.encryption import derived_cipher
from core.errors import ConfigurationError, NotFoundError
from core.file_store import FileStore
from core.models import Organization, Role

log = logging.getLogger(__name__)

# Who may play or download a recording (the issue: manager, compliance, org admin); the API, the console
# and their tests use this tuple.
RECORDING_READERS = (Role.MANAGER, Role.COMPLIANCE, Role.ORG_ADMIN)
CHUNK_BYTES = 256 * 1024
_MAGIC = b"CRv1"
_INFO = b"clearline call recording encryption v1"
_LEN = struct.Struct(">I")


def spool_dir(home: Path) -> Path:
    """Where this host's line workers write recordings in progress (never served; removed once stored)."""
    return home / "spool" / "recordings"


def file_key(org_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    return f"recordings/{org_id}/{attempt_id}.crv1"


def _aad(attempt_id: uuid.UUID, index: int, last: bool) -> bytes:
    return attempt_id.bytes + _LEN.pack(index) + (b"\x01" if last else b"\x00")


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)  # the last chunk, possibly empty: it carries the last-chunk flag


def encrypt(
    secret_key: str, org_id: uuid.UUID, attempt_id: uuid.UUID, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    cipher = derived_cipher(secret_key, _INFO, org_id=org_id)
    prefix = os.urandom(8)
    yield _MAGIC + prefix
    pending: bytes | None = None
    index = 0
    for chunk in _rechunk(chunks, CHUNK_BYTES):
        if pending is not None:
            sealed = cipher.encrypt(prefix + _LEN.pack(index), pending, _aad(attempt_id, index, False))
            yield _LEN.pack(len(sealed)) + sealed
            index += 1
        pending = chunk
    assert pending is not None
    sealed = cipher.encrypt(prefix + _LEN.pack(index), pending, _aad(attempt_id, index, True))
    yield _LEN.pack(len(sealed)) + sealed


def decrypt(
    secret_key: str, org_id: uuid.UUID, attempt_id: uuid.UUID, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """The WAV's bytes as the stored chunks arrive; ConfigurationError if anything was altered."""
    cipher = derived_cipher(secret_key, _INFO, org_id=org_id)
    buffer = bytearray()
    source = iter(chunks)
    ended = False

    def need(n: int) -> bool:
        nonlocal ended
        while len(buffer) < n and not ended:
            try:
                buffer.extend(next(source))
            except StopIteration:
                ended = True
        return len(buffer) >= n

    bad = f"recording of attempt {attempt_id} does not decrypt: altered, truncated or not this organization's"
    if not need(12) or bytes(buffer[:4]) != _MAGIC:
        raise ConfigurationError(f"recording of attempt {attempt_id} is not in the CRv1 format")
    prefix = bytes(buffer[4:12])
    del buffer[:12]
    index = 0
    while True:
        if not need(4):
            raise ConfigurationError(bad)
        (size,) = _LEN.unpack(buffer[:4])
        if size > CHUNK_BYTES + 16 or not need(4 + size):
            raise ConfigurationError(bad)
        sealed = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        last = not need(1)
        try:
            yield cipher.decrypt(prefix + _LEN.pack(index), sealed, _aad(attempt_id, index, last))
        except InvalidTag:
            raise ConfigurationError(bad) from None
        if last:
            return
        index += 1


def _wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except (OSError, wave.Error, EOFError):
        return 0.0


def _file_chunks(path: Path, digest: hashlib._Hash) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            yield chunk


@dataclass(frozen=True)
class FinishedRecording:
    """What the line worker reports of a recording it closed (`dialer.sip.protocol.RecordingSaved`)."""

    attempt_id: uuid.UUID
    wav_path: Path
    started_at: float
    ended_at: float
    announced: bool
    error: str = ""


def _attempt(s: Session, attempt_id: uuid.UUID) -> CallAttempt:
    attempt = s.get(CallAttempt, attempt_id)
    if attempt is None:
        raise NotFoundError(f"no call attempt {attempt_id}")
    return attempt


def store_recording(
    db: Database, files: FileStore, secret_key: str, done: FinishedRecording
) -> CallRecording:
    """Encrypt the spooled WAV into the file store and link it to its attempt (the spool file goes)."""
    with db.session(ALL_ORGS) as s:
        attempt = _attempt(s, done.attempt_id)
        org_id, campaign_id = attempt.org_id, attempt.campaign_id
    row = CallRecording(
        org_id=org_id,
        attempt_id=done.attempt_id,
        campaign_id=campaign_id,
        announced=done.announced,
        started_at=datetime.fromtimestamp(done.started_at, UTC) if done.started_at else None,
        ended_at=datetime.fromtimestamp(done.ended_at, UTC) if done.ended_at else None,
    )
    try:
        if done.error:
            raise OSError(done.error)
        digest = hashlib.sha256()
        key = file_key(org_id, done.attempt_id)
        size = done.wav_path.stat().st_size
        chunks = encrypt(secret_key, org_id, done.attempt_id, _file_chunks(done.wav_path, digest))
        files.put(key, chunks, org_id=org_id)  # the organization's deletion removes its recordings too
        row.status, row.file_key, row.size_bytes = RecordingStatus.RECORDED.value, key, size
        row.sha256, row.seconds = digest.hexdigest(), _wav_seconds(done.wav_path)
        row.reason = "announced, then recorded" if done.announced else "recorded"
    except OSError as exc:
        row.status, row.reason = RecordingStatus.FAILED.value, f"not stored: {exc}"
        log.error("recording of attempt %s not stored: %s", done.attempt_id, exc)
    finally:
        done.wav_path.unlink(missing_ok=True)
    with db.session(ALL_ORGS) as s:
        s.add(row)
    return row


def note_not_recorded(db: Database, attempt_id: uuid.UUID, reason: str, *, failed: bool = False) -> None:
    """The campaign records, but this call is not recorded: the attempt says why."""
    with db.session(ALL_ORGS) as s:
        attempt = _attempt(s, attempt_id)
        s.add(
            CallRecording(
                org_id=attempt.org_id,
                attempt_id=attempt_id,
                campaign_id=attempt.campaign_id,
                status=(RecordingStatus.FAILED if failed else RecordingStatus.NOT_RECORDED).value,
                reason=reason,
            )
        )


def recording_of_attempt(session: Session, attempt_id: uuid.UUID) -> CallRecording:
    """The attempt's recording row, within the session's organization (another's is simply not found)."""
    row = session.scalars(select(CallRecording).where(CallRecording.attempt_id == attempt_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no recording of call attempt {attempt_id}")
    return row


def recordings_of_attempts(
    session: Session, attempt_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CallRecording]:
    ids = list(attempt_ids)
    if not ids:
        return {}
    rows = session.scalars(select(CallRecording).where(CallRecording.attempt_id.in_(ids)))
    return {row.attempt_id: row for row in rows}


def open_recording(
    session: Session, files: FileStore, secret_key: str, attempt_id: uuid.UUID, *, purpose: str
) -> tuple[CallRecording, Iterator[bytes]]:
    """The decrypted WAV of an attempt's recording, audited (`recording.play` / `recording.download`) in
    the session's transaction. The caller's role was checked by its route or page (RECORDING_READERS)."""
    row = recording_of_attempt(session, attempt_id)
    if row.status != RecordingStatus.RECORDED.value or row.file_key is None:
        raise NotFoundError(f"call attempt {attempt_id} has no stored recording ({row.status}: {row.reason})")
    audit.record(
        session,
        action=f"recording.{purpose}",
        target=str(attempt_id),
        org_id=row.org_id,
        detail={"campaign_id": str(row.campaign_id), "sha256": row.sha256},
    )
    session.flush()
    stored = files.open(row.file_key)
    return row, decrypt(secret_key, row.org_id, attempt_id, stored)


def purge_expired(db: Database, files: FileStore, now: datetime) -> int:
    """Remove the recordings older than their organization's period (rule `recordings`): the file goes,
    the row stays as `expired` with the date, so the attempt still shows that it was recorded."""
    rule = retention.BY_KIND["recordings"]
    removed = 0
    with db.session(ALL_ORGS) as s:
        orgs = list(s.execute(select(Organization.id, Organization.settings)))
    for org_id, settings in orgs:
        cut = retention.cutoff(rule, settings, now)
        if cut is None:
            continue
        while True:
            with db.session(ALL_ORGS) as s:
                rows = s.scalars(
                    select(CallRecording)
                    .where(
                        CallRecording.org_id == org_id,
                        CallRecording.created_at < cut,
                        CallRecording.file_key.is_not(None),
                    )
                    .limit(500)
                ).all()
                for row in rows:
                    assert row.file_key is not None
                    files.delete(row.file_key)
                    row.file_key, row.status = None, RecordingStatus.EXPIRED.value
                    row.reason = f"removed by the retention job on {now.date().isoformat()} (kept {retention.days_for(rule, settings)} days)"
                removed += len(rows)
            if len(rows) < 500:
                break
    return removed


def recordings_of_number(session: Session, e164: str) -> list[CallRecording]:
    """Every recording row of the calls placed to the number, oldest first (the session's scope)."""
    return list(
        session.scalars(
            select(CallRecording)
            .join(CallAttempt, CallAttempt.id == CallRecording.attempt_id)
            .where(CallAttempt.e164 == e164)
            .order_by(CallRecording.created_at)
        )
    )


def delete_recordings_of_number(session: Session, files: FileStore, e164: str, reason: str) -> int:
    """A privacy deletion of the number: the encrypted audio of each of its recordings leaves the file
    store, the row stays as `deleted` with the reason (the attempt still shows it was recorded). The
    count of files deleted."""
    deleted = 0
    for row in recordings_of_number(session, e164):
        if row.file_key is None:
            continue
        files.delete(row.file_key)
        row.file_key, row.status, row.reason = None, RecordingStatus.DELETED.value, reason
        deleted += 1
    session.flush()
    if deleted:
        log.info("deleted %d call recording(s) on a privacy request", deleted)
    return deleted


@dataclass(frozen=True)
class RecordingListItem:
    recording: CallRecording
    e164: str
    placed_at: datetime
    campaign_name: str


def recent_recordings(
    session: Session, *, limit: int = 50, before: datetime | None = None
) -> list[RecordingListItem]:
    """The organization's recording rows, newest first (the console's Recordings page), one query."""
    from campaigns.models import Campaign

    query = (
        select(CallRecording, CallAttempt.e164, CallAttempt.placed_at, Campaign.name)
        .join(CallAttempt, CallAttempt.id == CallRecording.attempt_id)
        .join(Campaign, Campaign.id == CallRecording.campaign_id)
        .order_by(CallRecording.created_at.desc())
        .limit(min(max(limit, 1), 500))
    )
    if before is not None:
        query = query.where(CallRecording.created_at < before)
    return [
        RecordingListItem(recording=row, e164=e164, placed_at=placed_at, campaign_name=name)
        for row, e164, placed_at, name in session.execute(query)
    ]
