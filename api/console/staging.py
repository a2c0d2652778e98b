"""Uploads the console holds between "drop the file" and "import it": the file waits on disk while the
manager checks the column mapping preview. A random token names it, bound to the user and the campaign;
it expires after an hour (files of abandoned previews are removed on the next upload)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from campaigns.lead_lists import upload_dir
from core.errors import NotFoundError
from core.runtime import Runtime
from core.uploads import StoredUpload

STAGE_TTL_S = 3600
_KEY = "clearline:console-upload:"


@dataclass(frozen=True)
class StagedUpload:
    token: str
    upload: StoredUpload
    campaign_id: uuid.UUID
    user_id: uuid.UUID


def staging_dir(runtime: Runtime) -> Path:
    return upload_dir(runtime) / "console-staged"


def _remove_abandoned(directory: Path) -> None:
    cutoff = time.time() - 2 * STAGE_TTL_S
    for path in directory.glob("*.upload"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def stage(
    runtime: Runtime, upload: StoredUpload, *, campaign_id: uuid.UUID, user_id: uuid.UUID
) -> StagedUpload:
    _remove_abandoned(upload.path.parent)
    token = secrets.token_urlsafe(24)
    record = {
        "path": str(upload.path),
        "file_name": upload.file_name,
        "sha256": upload.sha256,
        "size": upload.size,
        "campaign_id": str(campaign_id),
        "user_id": str(user_id),
    }
    runtime.redis.set(_KEY + token, json.dumps(record), ex=STAGE_TTL_S)
    return StagedUpload(token, upload, campaign_id, user_id)


def staged(runtime: Runtime, token: str, user_id: uuid.UUID) -> StagedUpload:
    """The user's staged upload, or NotFoundError (expired, imported already, or someone else's)."""
    raw = runtime.redis.get(_KEY + token) if len(token) < 64 else None
    record = json.loads(raw) if raw else None
    if record is None or record["user_id"] != str(user_id) or not Path(record["path"]).exists():
        raise NotFoundError(
            "this upload is no longer waiting (it expired or was imported); upload the file again"
        )
    upload = StoredUpload(Path(record["path"]), record["file_name"], record["sha256"], int(record["size"]))
    return StagedUpload(token, upload, uuid.UUID(record["campaign_id"]), user_id)


def unstage(runtime: Runtime, token: str) -> None:
    runtime.redis.delete(_KEY + token)
