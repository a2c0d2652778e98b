"""Call recordings in the console: the organization's recordings newest first, each with a player and a
download, or the reason it was not recorded. Managers, compliance staff and org admins only (not the
platform's admins); every play and download is audited by `campaigns.recordings.open_recording`, the
service the API's routes call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from api.console.nav import section
from api.console.render import page
from api.principal import Principal
from api.recording_routes import require_org_reader
from campaigns.recordings import RECORDING_READERS, open_recording, recent_recordings
from core import retention
from core.models import Organization
from core.runtime import Runtime
from dnc.recording_consent import all_party_states

RECORDINGS = section("Recordings", "/console/recordings", RECORDING_READERS, order=35)
PAGE_SIZE = 50


@get("/console/recordings", opt=RECORDINGS.opt, include_in_schema=False, sync_to_thread=True)
def recordings_page(
    request: Request[Any, Any, Any], session: Session, principal: Principal, before: str = ""
) -> Template:
    require_org_reader(principal)
    cursor = datetime.fromisoformat(before) if before else None
    items = recent_recordings(session, limit=PAGE_SIZE, before=cursor)
    org = session.get(Organization, principal.org_id) if principal.org_id else None
    days = retention.days_for(retention.BY_KIND["recordings"], org.settings if org else None)
    return page(
        request,
        "recordings/list.html",
        section=RECORDINGS,
        items=items,
        retention_days=days,
        states=sorted(all_party_states().values(), key=lambda s: s.code),
        next_before=items[-1].recording.created_at.isoformat() if len(items) == PAGE_SIZE else "",
    )


@get(
    "/console/recordings/{attempt_id:uuid}/audio.wav",
    opt=RECORDINGS.opt,
    include_in_schema=False,
    sync_to_thread=True,
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
    session.commit()
    disposition = "attachment" if download else "inline"
    return Stream(
        audio,
        media_type="audio/wav",
        headers={
            "Content-Disposition": f'{disposition}; filename="recording-{attempt_id}.wav"',
            "Cache-Control": "no-store",
        },
    )


PAGES = [recordings_page, recording_audio]
