"""Call recordings: an attempt's recording (what it is, or why there is none), its audio, and the list of
all-party-consent states the dialer decides from. Thin callers of `campaigns.recordings` and
`dnc.recording_consent`.

Only the organization's managers, compliance staff and org admins hear recordings (not agents, and not
the platform's own admins: a recording is the customer's most personal data, and support never needs
it); another organization's attempt is not found. Every play or download is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import get
from litestar.response import Stream
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.models import CallRecording
from campaigns.recordings import RECORDING_READERS, open_recording, recording_of_attempt
from core import retention
from core.errors import PermissionDeniedError
from core.models import Organization, Role
from core.runtime import Runtime
from dnc.recording_consent import all_party_states


class RecordingOut(msgspec.Struct):
    attempt_id: uuid.UUID
    campaign_id: uuid.UUID
    status: str  # recorded | not_recorded | failed | expired | deleted (privacy request)
    reason: str
    announced: bool
    seconds: float
    size_bytes: int
    sha256: str | None  # of the WAV as recorded (before encryption)
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    retention_days: int | None  # the organization's period for recordings (rule `recordings`)
    audio_url: str | None  # GET it for the WAV (audited)


class ConsentStateOut(msgspec.Struct):
    state: str
    name: str
    citation: str
    url: str
    note: str


def require_org_reader(principal: Principal) -> None:
    if principal.is_platform_admin:
        raise PermissionDeniedError(
            "call recordings are heard only by the organization's managers, compliance staff and org admins"
        )


def recording_out(session: Session, row: CallRecording) -> RecordingOut:
    org = session.get(Organization, row.org_id)
    days = retention.days_for(retention.BY_KIND["recordings"], org.settings if org else None)
    return RecordingOut(
        attempt_id=row.attempt_id,
        campaign_id=row.campaign_id,
        status=row.status,
        reason=row.reason,
        announced=row.announced,
        seconds=round(row.seconds, 2),
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        started_at=row.started_at,
        ended_at=row.ended_at,
        created_at=row.created_at,
        retention_days=days,
        audio_url=f"/api/call-attempts/{row.attempt_id}/recording.wav" if row.file_key else None,
    )


@get(
    "/api/call-attempts/{attempt_id:uuid}/recording",
    opt=roles(*RECORDING_READERS),
    sync_to_thread=True,
    tags=["recordings"],
)
def recording_info(session: Session, principal: Principal, attempt_id: uuid.UUID) -> RecordingOut:
    """The attempt's recording: recorded (with its audio URL), or why it was not (not_recorded, failed,
    expired by the retention period). 404 when the campaign did not record the call."""
    require_org_reader(principal)
    return recording_out(session, recording_of_attempt(session, attempt_id))


@get(
    "/api/call-attempts/{attempt_id:uuid}/recording.wav",
    opt=roles(*RECORDING_READERS),
    sync_to_thread=True,
    media_type="audio/wav",
    tags=["recordings"],
    description="The recording's audio (8 kHz mono WAV, both parties mixed), decrypted as it streams. "
    "`download=true` asks for an attachment. Every access is audited (recording.download or recording.play).",
)
def recording_audio(
    session: Session, principal: Principal, runtime: Runtime, attempt_id: uuid.UUID, download: bool = False
) -> Stream:
    require_org_reader(principal)
    _, audio = open_recording(
        session,
        runtime.files,
        runtime.settings.secret_key,
        attempt_id,
        purpose="download" if download else "play",
    )
    session.commit()  # the audit row is written before the first byte leaves
    disposition = "attachment" if download else "inline"
    return Stream(
        audio,
        media_type="audio/wav",
        headers={
            "Content-Disposition": f'{disposition}; filename="recording-{attempt_id}.wav"',
            "Cache-Control": "no-store",
        },
    )


@get(
    "/api/recording-consent-states",
    opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT),
    sync_to_thread=True,
    tags=["recordings"],
)
def recording_consent_states() -> list[ConsentStateOut]:
    """The states whose law requires every party's consent to record a call, with their sources (the
    data file dnc/recording_consent.toml): calls into them are announced before recording, or not
    recorded, per the campaign's recording_mode."""
    return [
        ConsentStateOut(state=s.code, name=s.name, citation=s.citation, url=s.url, note=s.note)
        for s in all_party_states().values()
    ]


ROUTES: list[ControllerRouterHandler] = [recording_info, recording_audio, recording_consent_states]
