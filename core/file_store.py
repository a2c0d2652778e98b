"""Files every host must reach (DNC index files, uploaded lead files, error and scrub reports, call
recordings) go through one small interface, `FileStore`, keyed by a relative name such as
`recordings/<org>/<attempt>.bin`. Domain code never builds server paths from user input: keys are made by
the code that stores the file, and `check_key` refuses anything that could leave the store.

`LocalFileStore` keeps them under a directory of the data dir (one host). The shared implementation (every
host on one PostgreSQL) is chosen by `core.runtime.Runtime.files`; see docs/architecture.md.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import ClearlineError

CHUNK_BYTES = 1 << 20
_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class FileNotStoredError(ClearlineError):
    status_code = 404
    title = "File not found"


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


def check_key(key: str) -> str:
    """A store key: relative, `/`-separated names of letters, digits, `_`, `-` and `.`, no `..`."""
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(f"file store key {key!r}: must be relative names of [A-Za-z0-9_.-] joined by '/'")
    return key


class FileStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> StoredFile:
        """Store (or replace) the file `key` from `chunks`; readers never see a half-written file."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The file's bytes in chunks; `FileNotStoredError` if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool:
        """Remove the file; False if there was none."""
        ...


class LocalFileStore:
    """Files under one directory of this host (created 0700, files 0600 through the private umask)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> StoredFile:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        digest, size = hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise FileNotStoredError(f"no stored file {key!r}") from None
        with handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
