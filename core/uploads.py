"""Storing uploaded files: streamed to disk chunk by chunk under a size limit, hashed on the way, and removed
again if anything goes wrong. The HTTP side (multipart or raw body) is `api.uploads`; the domain packages
say where their files go."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from core.errors import ClearlineError

UPLOAD_SUFFIX = ".upload"


class UploadTooLargeError(ClearlineError):
    status_code = 413
    title = "Request body too large"


@dataclass(frozen=True)
class StoredUpload:
    """An uploaded file on disk: where it is, the name the client gave it, its SHA-256 and size."""

    path: Path
    file_name: str
    sha256: str
    size: int


class UploadWriter:
    """Writes one upload to a new file in `directory` (created 0700), refusing more than `limit` bytes.

    Use as a context manager: leaving it with an exception deletes the partial file."""

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.limit = limit
        self.path = directory / f"{uuid.uuid4().hex}{UPLOAD_SUFFIX}"
        self.size = 0
        self._digest = hashlib.sha256()
        self._fh = self.path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise UploadTooLargeError(f"the file is larger than the {self.limit}-byte upload limit")
        self._digest.update(chunk)
        self._fh.write(chunk)

    def finish(self, file_name: str) -> StoredUpload:
        self._fh.close()
        return StoredUpload(self.path, Path(file_name).name, self._digest.hexdigest(), self.size)

    def discard(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> UploadWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()
        else:
            self._fh.close()


def remove_stale_uploads(directories: list[Path], *, keep: set[Path], older_than: timedelta) -> list[Path]:
    """Delete `*.upload` files (partial uploads of a crashed API, files of jobs that will never run) that
    no pending job reads and nobody wrote to for `older_than`; returns what was removed."""
    cutoff = time.time() - older_than.total_seconds()
    keep = {p.resolve() for p in keep}
    removed: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in directory.glob(f"*{UPLOAD_SUFFIX}"):
            try:
                if path.resolve() in keep or path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed
