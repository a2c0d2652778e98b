"""DNC index directories in the shared file store, and each host's local copy of them.

An index (`dnc.bitmap_index`, `dnc.dated_index`) is a directory that processes memory-map, so it must be a
local file. An import packs it into one stored file (`core.file_store`, key per list version) and records
the pack's SHA-256 on the version row; any process on any host that needs the version finds it in its
host's cache, `$CLEARLINE_HOME/cache/dnc-index/<sha256>/`, or fetches it from the store once (streamed,
checked against the hash, then renamed into place, so a half-fetched copy is never used).

A pack is a JSON line naming each file with its size and data extents (the bitmap is a sparse 1 GB file
with ~410 MB of data for a national registry: holes are neither stored nor fetched), then the extents'
bytes in order. Cache entries are immutable (named by content); a process holds a shared lock on each
entry it maps, and entries nobody holds are removed once they have not been used for `CACHE_KEEP`.

A change list is not stored as a new pack: its normalized adds and deletes go into a small delta file
(`pack_delta`), and the version records its base pack plus the ordered chain of deltas on top of it
(`DeltaRef`, with each file's SHA-256). A host builds that version's copy from its cached base and the
deltas (`bitmap_index.apply_changes`, the change-list code) in a work directory and renames it into the
cache under `chain_name(base, deltas)`; a delta that is not what the database recorded refuses the whole
build (`IndexPackError`). `dnc.lists` decides when a chain is compacted back into a full pack.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.file_store import CHUNK_BYTES, FileStore, StoredFile
from dnc import bitmap_index

PACK_FORMAT = "clearline-index-pack-1"
DELTA_FORMAT = "clearline-index-delta-1"
LOCK_NAME = ".lock"
CACHE_KEEP_S = 3600.0  # an entry no process holds is kept this long after its last use, then removed


class IndexPackError(ValueError):
    """A stored index pack that is malformed or is not the content the database recorded."""


def cache_root(home: Path) -> Path:
    return home / "cache" / "dnc-index"


def _extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The (offset, length) runs of a file that hold data; a filesystem without hole support reports the
    whole file as one run."""
    runs: list[tuple[int, int]] = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole remains
                break
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        runs.append((start, end - start))
        pos = end
    return runs


def pack(directory: Path) -> Iterator[bytes]:
    """The index directory as one stream: a header line, then each file's data extents."""
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != LOCK_NAME)
    handles = {name: (directory / name).open("rb") for name in names}
    try:
        files = []
        for name, handle in handles.items():
            size = os.fstat(handle.fileno()).st_size
            files.append({"name": name, "size": size, "extents": _extents(handle.fileno(), size)})
        yield (json.dumps({"format": PACK_FORMAT, "files": files}) + "\n").encode()
        for entry in files:
            handle = handles[str(entry["name"])]
            for offset, length in entry["extents"]:  # type: ignore[attr-defined]
                handle.seek(offset)
                left = length
                while left:
                    block = handle.read(min(left, CHUNK_BYTES))
                    if not block:
                        raise OSError(f"{directory / str(entry['name'])} shrank while being packed")
                    left -= len(block)
                    yield block
    finally:
        for handle in handles.values():
            handle.close()


class _Stream:
    """Reads exact byte counts from an iterator of chunks, holding at most one chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = memoryview(b"")
        self.digest = hashlib.sha256()

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self.digest.update(chunk)
                self._buffer = memoryview(chunk)
                return True
        return False

    def line(self, limit: int = 16 << 20) -> bytes:
        out = bytearray()
        while True:
            if not self._buffer and not self._fill():
                raise IndexPackError("index pack ends inside its header")
            end = bytes(self._buffer[: limit - len(out)]).find(b"\n")
            if end >= 0:
                out += self._buffer[:end]
                self._buffer = self._buffer[end + 1 :]
                return bytes(out)
            out += self._buffer
            self._buffer = memoryview(b"")
            if len(out) >= limit:
                raise IndexPackError("index pack header is too long")

    def copy(self, length: int, out: IO[bytes]) -> None:
        while length:
            if not self._buffer and not self._fill():
                raise IndexPackError("index pack is truncated")
            piece = self._buffer[:length]
            out.write(piece)
            self._buffer = self._buffer[len(piece) :]
            length -= len(piece)

    def at_end(self) -> bool:
        return not self._buffer and not self._fill()


def unpack(chunks: Iterable[bytes], directory: Path) -> str:
    """Write a packed index into the new directory `directory`; returns the pack's SHA-256."""
    stream = _Stream(chunks)
    header = json.loads(stream.line())
    if header.get("format") != PACK_FORMAT:
        raise IndexPackError(f"not an index pack (format {header.get('format')!r})")
    directory.mkdir(parents=True, exist_ok=False, mode=0o700)
    for entry in header["files"]:
        name = str(entry["name"])
        if "/" in name or name in {"", ".", "..", LOCK_NAME}:
            raise IndexPackError(f"index pack names a file {name!r} outside its directory")
        with (directory / name).open("wb") as out:
            out.truncate(int(entry["size"]))  # holes stay holes
            for offset, length in entry["extents"]:
                out.seek(int(offset))
                stream.copy(int(length), out)
    if not stream.at_end():
        raise IndexPackError("index pack has bytes after its last file")
    return stream.digest.hexdigest()


def publish(store: FileStore, home: Path, directory: Path, key: str, org_id: uuid.UUID | None) -> StoredFile:
    """Store the index directory (made by `work_dir`) under `key` and adopt it as this host's cached
    copy, so the importing host never fetches back what it just built."""
    stored = store.put(key, pack(directory), org_id=org_id)
    (directory / LOCK_NAME).touch()
    _adopt(directory, cache_root(home) / stored.sha256)
    return stored


def work_dir(home: Path) -> Path:
    """A new private directory to build an index in, on the cache's filesystem (so it can be renamed in)."""
    root = cache_root(home) / "building"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root / uuid.uuid4().hex


def _adopt(directory: Path, entry: Path) -> Path:
    try:
        directory.rename(entry)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        shutil.rmtree(directory, ignore_errors=True)  # another process cached the same content first
    return entry


class CachedIndex:
    """A cache entry held by this process: the entry is not removed while the lock is held."""

    def __init__(self, directory: Path, lock: IO[bytes]) -> None:
        self.directory = directory
        self._lock = lock

    def release(self) -> None:
        self._lock.close()

    def __del__(self) -> None:
        self._lock.close()


def _hold(entry: Path) -> CachedIndex | None:
    try:
        lock = (entry / LOCK_NAME).open("ab")
    except FileNotFoundError:
        return None
    fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
    if not (entry / "meta.json").exists():  # removed between the open and the lock
        lock.close()
        return None
    os.utime(entry / LOCK_NAME)  # last use, for the eviction of entries nobody holds
    return CachedIndex(entry, lock)


@dataclass(frozen=True)
class DeltaRef:
    """One stored change list on top of a base pack, as a version row records it (`as_json`)."""

    key: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeltaRef:
        return cls(key=str(data["key"]), sha256=str(data["sha256"]), size=int(data["size"]))


@dataclass(frozen=True)
class Delta:
    """A change list's normalized content: sorted, distinct national numbers (int64)."""

    from_seq: int
    to_seq: int
    adds: np.ndarray
    deletes: np.ndarray


def pack_delta(delta: Delta) -> Iterator[bytes]:
    """A delta as one stream: a header line, then the adds and the deletes as little-endian int64."""
    header = {
        "format": DELTA_FORMAT,
        "from_seq": delta.from_seq,
        "to_seq": delta.to_seq,
        "adds": len(delta.adds),
        "deletes": len(delta.deletes),
    }
    yield (json.dumps(header) + "\n").encode()
    for values in (delta.adds, delta.deletes):
        data = memoryview(np.ascontiguousarray(values, dtype="<i8").tobytes())
        for start in range(0, len(data), CHUNK_BYTES):
            yield bytes(data[start : start + CHUNK_BYTES])


def unpack_delta(chunks: Iterable[bytes], expected_sha256: str, key: str) -> Delta:
    """A stored delta, refused unless its content is the SHA-256 the database recorded."""
    stream = _Stream(chunks)
    header = json.loads(stream.line())
    if header.get("format") != DELTA_FORMAT:
        raise IndexPackError(f"stored delta {key!r} is not an index delta (format {header.get('format')!r})")
    arrays = []
    for count in (int(header["adds"]), int(header["deletes"])):
        buffer = io.BytesIO()
        stream.copy(count * 8, buffer)
        arrays.append(np.frombuffer(buffer.getbuffer(), dtype="<i8").astype(np.int64))
    if not stream.at_end():
        raise IndexPackError(f"stored delta {key!r} has bytes after its numbers")
    got = stream.digest.hexdigest()
    if got != expected_sha256:
        raise IndexPackError(
            f"stored delta {key!r} has SHA-256 {got}, the database recorded {expected_sha256}"
        )
    return Delta(int(header["from_seq"]), int(header["to_seq"]), arrays[0], arrays[1])


def publish_delta(store: FileStore, delta: Delta, key: str, org_id: uuid.UUID | None) -> DeltaRef:
    stored = store.put(key, pack_delta(delta), org_id=org_id)
    return DeltaRef(key=stored.key, sha256=stored.sha256, size=stored.size)


def chain_name(base_sha256: str, deltas: Sequence[DeltaRef]) -> str:
    """The cache entry of a base pack with deltas applied: named by the content of all of them."""
    if not deltas:
        return base_sha256
    return hashlib.sha256("\n".join([base_sha256, *(d.sha256 for d in deltas)]).encode()).hexdigest()


def local_index(
    store: FileStore, home: Path, key: str, sha256: str, deltas: Sequence[DeltaRef] = ()
) -> CachedIndex:
    """This host's copy of the stored index `key` with content `sha256` (and the change lists `deltas`
    applied in order), fetched or built on first use."""
    if deltas:
        return _local_chain(store, home, key, sha256, deltas)
    entry = cache_root(home) / sha256
    held = _hold(entry)
    if held is not None:
        return held
    target = work_dir(home)
    try:
        got = unpack(store.open(key), target)
        if got != sha256:
            raise IndexPackError(f"stored index {key!r} has SHA-256 {got}, the database recorded {sha256}")
        (target / LOCK_NAME).touch()
        _adopt(target, entry)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    evict_unused(home, keep={sha256})
    held = _hold(entry)
    if held is None:
        raise FileNotFoundError(f"cached index {entry} vanished right after it was fetched")
    return held


def _local_chain(
    store: FileStore, home: Path, key: str, sha256: str, deltas: Sequence[DeltaRef]
) -> CachedIndex:
    name = chain_name(sha256, deltas)
    entry = cache_root(home) / name
    held = _hold(entry)
    if held is not None:
        return held
    # Every delta is fetched and checked before the base is copied: a bad one costs no 400 MB copy.
    changes = [unpack_delta(store.open(d.key), d.sha256, d.key) for d in deltas]
    target = copy_of(store, home, key, sha256)
    try:
        for change in changes:
            bitmap_index.apply_changes(
                target,
                from_seq=change.from_seq,
                to_seq=change.to_seq,
                adds=change.adds,
                deletes=change.deletes,
            )
        (target / LOCK_NAME).touch()
        _adopt(target, entry)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    evict_unused(home, keep={name, sha256})
    held = _hold(entry)
    if held is None:
        raise FileNotFoundError(f"cached index {entry} vanished right after it was built")
    return held


def copy_of(store: FileStore, home: Path, key: str, sha256: str, deltas: Sequence[DeltaRef] = ()) -> Path:
    """A private, writable copy of a stored index (a change list is applied to it, then published)."""
    held = local_index(store, home, key, sha256, deltas)
    target = work_dir(home)
    try:
        unpack(pack(held.directory), target)
    finally:
        held.release()
    return target


def evict_unused(home: Path, *, keep: set[str], now: float | None = None) -> list[str]:
    """Remove cache entries no process holds and nobody used for `CACHE_KEEP_S`; returns their names."""
    now = time.time() if now is None else now
    removed: list[str] = []
    root = cache_root(home)
    for entry in root.iterdir():
        if entry.name in keep or entry.name == "building" or not entry.is_dir():
            continue
        try:
            lock = (entry / LOCK_NAME).open("ab")
        except FileNotFoundError:
            continue
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # mapped by a running process
            if now - os.fstat(lock.fileno()).st_mtime < CACHE_KEEP_S:
                continue
            (entry / "meta.json").unlink(missing_ok=True)  # a process waiting on the lock sees it gone
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
