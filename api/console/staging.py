"""Uploads the console holds between "drop the file" and "import it": the file waits in the shared file
store (not on the host that received it: the preview and the import may be served by another API host,
and the import job runs on any worker) while the manager checks the column mapping preview. A random
token names it, bound to the user and the campaign; it expires after an hour. A staged file nobody
imports is removed by the daily retention sweep of stored uploads (`core.retention` "stored_uploads")."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from campaigns.lead_lists import upload_dir
from core.errors import NotFoundError
from core.file_store import local_copy, stash_upload
from core.runtime import Runtime
from core.uploads import StoredUpload

STAGE_TTL_S = 3600
_KEY = "clearline:console-upload:"


@dataclass(frozen=True)
class StagedUpload:
    token: str
    file_key: str  # its key in the shared file store
    file_name: str
    sha256: str
    size: int
    campaign_id: uuid.UUID
    user_id: uuid.UUID


def staging_dir(runtime: Runtime) -> Path:
    """Where this host receives an upload (and fetches a staged one to read it) for a moment."""
    return upload_dir(runtime) / "console-staged"


def stage(
    runtime: Runtime,
    upload: StoredUpload,
    *,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    user_id: uuid.UUID,
) -> StagedUpload:
    """Move a received upload into the shared store and remember it under a new token; the local file is
    removed either way."""
    file_key = stash_upload(runtime.files, upload.path, org_id=org_id)
    token = secrets.token_urlsafe(24)
    record = {
        "file_key": file_key,
        "file_name": upload.file_name,
        "sha256": upload.sha256,
        "size": upload.size,
        "campaign_id": str(campaign_id),
        "user_id": str(user_id),
    }
    runtime.redis.set(_KEY + token, json.dumps(record), ex=STAGE_TTL_S)
    return StagedUpload(token, file_key, upload.file_name, upload.sha256, upload.size, campaign_id, user_id)


def staged(runtime: Runtime, token: str, user_id: uuid.UUID) -> StagedUpload:
    """The user's staged upload, or NotFoundError (expired, imported already, or someone else's)."""
    raw = runtime.redis.get(_KEY + token) if len(token) < 64 else None
    record = json.loads(raw) if raw else None
    if (
        record is None
        or record["user_id"] != str(user_id)
        or not record.get("file_key")
        or not runtime.files.exists(record["file_key"])
    ):
        raise NotFoundError(
            "this upload is no longer waiting (it expired or was imported); upload the file again"
        )
    return StagedUpload(
        token,
        record["file_key"],
        record["file_name"],
        record["sha256"],
        int(record["size"]),
        uuid.UUID(record["campaign_id"]),
        user_id,
    )


@contextmanager
def staged_copy(runtime: Runtime, item: StagedUpload) -> Iterator[Path]:
    """The staged file as a local file of this host, for the preview's parser; removed afterwards."""
    with local_copy(runtime.files, item.file_key, staging_dir(runtime)) as path:
        yield path


def unstage(runtime: Runtime, token: str, *, delete_file: bool = False) -> None:
    """Forget the token; `delete_file` also removes the staged file (when no import job will take it)."""
    raw = runtime.redis.getdel(_KEY + token)
    if delete_file and raw:
        file_key = json.loads(raw).get("file_key")
        if file_key:
            runtime.files.delete(file_key)
