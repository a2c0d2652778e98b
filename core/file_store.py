"""Files every host must reach (DNC index files, uploaded lead files, error and scrub reports, call
recordings) go through one small interface, `FileStore`, keyed by a relative name such as
`recordings/<org>/<attempt>.bin`. Domain code never builds server paths from user input: keys are made by
the code that stores the file, and `check_key` refuses anything that could leave the store.

`PostgresFileStore` keeps them in the database every host already reaches (bytea chunks, streamed both
ways in bounded memory); `LocalFileStore` keeps them under a directory of the data dir (one host, or a
shared filesystem). `CLEARLINE_FILE_STORE` chooses (`core.runtime.Runtime.files`); see
docs/architecture.md, "Files every host reaches".
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from core.db import utcnow
from core.errors import ClearlineError
from core.models import StoredFileChunk, StoredFileRow

CHUNK_BYTES = 1 << 20
UPLOADS_PREFIX = "uploads/"  # uploads waiting for their job (`stash_upload`); swept by retention
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
    def put(self, key: str, chunks: Iterable[bytes], *, org_id: uuid.UUID | None = None) -> StoredFile:
        """Store (or replace) the file `key` from `chunks`; readers never see a half-written file.
        `org_id`: the organization the file belongs to (None: the platform's), where the store records it."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The file's bytes in chunks; `FileNotStoredError` if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str) -> StoredFile:
        """The file's size and SHA-256; `FileNotStoredError` if there is none."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the file; False if there was none."""
        ...

    def keys_stored_before(self, prefix: str, before: datetime) -> list[str]:
        """The keys starting with `prefix` whose file was stored before `before` (for sweeps)."""
        ...


class LocalFileStore:
    """Files under one directory of this host (created 0700, files 0600 through the private umask)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, chunks: Iterable[bytes], *, org_id: uuid.UUID | None = None) -> StoredFile:
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

    def stat(self, key: str) -> StoredFile:
        digest, size = hashlib.sha256(), 0
        for chunk in self.open(key):
            digest.update(chunk)
            size += len(chunk)
        return StoredFile(key=key, size=size, sha256=digest.hexdigest())

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def keys_stored_before(self, prefix: str, before: datetime) -> list[str]:
        cutoff = before.timestamp()
        return sorted(
            key
            for path in self.root.rglob("*")
            if path.is_file()
            and not path.name.endswith(".partial")
            and (key := path.relative_to(self.root).as_posix()).startswith(prefix)
            and path.stat().st_mtime < cutoff
        )


def _rechunked(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of `chunks` again, in pieces of exactly `size` (the last one shorter); holds at most
    one piece plus one input chunk."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class PostgresFileStore:
    """Files as rows of bytea chunks in the database every host already reaches.

    A put is one transaction: the file row is written with no key, its chunks are inserted as they
    arrive, and only then is the key given to it (replacing an older file of that key). A put that fails
    or whose process dies rolls back, so a reader finds the complete old file, the complete new one, or
    none. A read is one REPEATABLE READ transaction streaming the chunks through a server-side cursor, a
    few chunks at a time, so it never sees a file replaced halfway through."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, key: str, chunks: Iterable[bytes], *, org_id: uuid.UUID | None = None) -> StoredFile:
        check_key(key)
        digest, size, file_id = hashlib.sha256(), 0, uuid.uuid4()
        with self.engine.begin() as conn:
            conn.execute(
                StoredFileRow.__table__.insert().values(  # type: ignore[attr-defined]
                    id=file_id, key=None, org_id=org_id, size=0, sha256="", created_at=utcnow()
                )
            )
            for seq, piece in enumerate(_rechunked(chunks, CHUNK_BYTES)):
                digest.update(piece)
                size += len(piece)
                conn.execute(
                    StoredFileChunk.__table__.insert().values(  # type: ignore[attr-defined]
                        file_id=file_id, seq=seq, data=piece
                    )
                )
            # Concurrent puts of one key take turns here, so the last to commit wins instead of failing
            # on the unique key.
            conn.execute(select(func.pg_advisory_xact_lock(zlib.crc32(key.encode()))))
            conn.execute(delete(StoredFileRow).where(StoredFileRow.key == key))
            conn.execute(
                update(StoredFileRow)
                .where(StoredFileRow.id == file_id)
                .values(key=key, size=size, sha256=digest.hexdigest())
            )
        return StoredFile(key=key, size=size, sha256=digest.hexdigest())

    def stat(self, key: str) -> StoredFile:
        check_key(key)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(StoredFileRow.size, StoredFileRow.sha256).where(StoredFileRow.key == key)
            ).one_or_none()
        if row is None:
            raise FileNotStoredError(f"no stored file {key!r}")
        return StoredFile(key=key, size=int(row.size), sha256=str(row.sha256))

    def open(self, key: str) -> Iterator[bytes]:
        check_key(key)
        conn = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        try:
            row = conn.execute(
                select(StoredFileRow.id, StoredFileRow.size).where(StoredFileRow.key == key)
            ).one_or_none()
            if row is None:
                raise FileNotStoredError(f"no stored file {key!r}")
        except BaseException:
            conn.close()
            raise
        return self._chunks(conn, key, row.id, int(row.size))

    @staticmethod
    def _chunks(conn: Connection, key: str, file_id: uuid.UUID, size: int) -> Iterator[bytes]:
        query = (
            select(StoredFileChunk.data)
            .where(StoredFileChunk.file_id == file_id)
            .order_by(StoredFileChunk.seq)
            .compile(dialect=conn.dialect)
        )
        with conn:
            # psycopg's own server-side cursor, for its binary result format: bytea as text would be
            # hex, twice the bytes to send and to decode (SQLAlchemy's cursors ask for text).
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            with raw.cursor(name=f"clearline_file_{file_id.hex}", binary=True) as cursor:
                cursor.itersize = 2  # chunks held at a time
                cursor.execute(str(query), query.params)
                read = 0
                for (data,) in cursor:
                    read += len(data)
                    yield data
            if read != size:
                raise FileNotStoredError(f"stored file {key!r} has {read} of its {size} bytes")

    def exists(self, key: str) -> bool:
        check_key(key)
        with self.engine.connect() as conn:
            return conn.execute(select(StoredFileRow.id).where(StoredFileRow.key == key)).first() is not None

    def delete(self, key: str) -> bool:
        check_key(key)
        with self.engine.begin() as conn:
            return conn.execute(delete(StoredFileRow).where(StoredFileRow.key == key)).rowcount > 0

    def keys_stored_before(self, prefix: str, before: datetime) -> list[str]:
        with self.engine.connect() as conn:
            return [
                str(key)
                for key in conn.scalars(
                    select(StoredFileRow.key)
                    .where(StoredFileRow.key.startswith(prefix, autoescape=True))
                    .where(StoredFileRow.created_at < before)
                    .order_by(StoredFileRow.key)
                )
            ]


def file_chunks(path: Path) -> Iterator[bytes]:
    """A local file's bytes in chunks, for `FileStore.put`."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@dataclass(frozen=True)
class StashedUpload:
    """An upload already moved into the store (`stash_upload`): its key, the client's name for it, its
    SHA-256 and size."""

    file_key: str
    file_name: str
    sha256: str
    size: int


def stash_upload(store: FileStore, path: Path, *, org_id: uuid.UUID | None) -> str:
    """Move a received upload from this host's disk into the store, where the job that reads it finds it
    on whichever host it runs; returns its key. The local file is removed either way."""
    key = f"{UPLOADS_PREFIX}{org_id or 'platform'}/{uuid.uuid4().hex}.upload"
    try:
        store.put(key, file_chunks(path), org_id=org_id)
    finally:
        path.unlink(missing_ok=True)
    return key


@contextmanager
def local_copy(store: FileStore, key: str, directory: Path) -> Iterator[Path]:
    """The stored file as a private local file (for parsers that need a path), removed afterwards."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{uuid.uuid4().hex}.fetched"
    try:
        with path.open("wb") as out:
            for chunk in store.open(key):
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def cached_copy(store: FileStore, key: str, sha256: str, directory: Path, *, suffix: str = "") -> Path:
    """This host's copy of a stored file whose content is `sha256`, for readers that need a path (a media
    player): `directory/<sha256><suffix>`, fetched once and checked against the hash; content-addressed,
    so a cached copy is never stale. Raises `FileNotStoredError` if the store's bytes are not `sha256`."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"sha256 {sha256[:80]!r} is not 64 lowercase hex digits")
    target = directory / f"{sha256}{suffix}"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = directory / f".{sha256}.{uuid.uuid4().hex}.partial"
    try:
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for chunk in store.open(key):
                out.write(chunk)
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise FileNotStoredError(
                f"stored file {key!r} has SHA-256 {digest.hexdigest()}, expected {sha256}"
            )
        os.replace(partial, target)  # two processes fetching at once both rename the same bytes in
    finally:
        partial.unlink(missing_ok=True)
    return target
