"""The shared file store on the real PostgreSQL: what one host stores another reads, whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.file_store import CHUNK_BYTES, FileNotStoredError, LocalFileStore, PostgresFileStore
from core.models import StoredFileChunk, StoredFileRow
from core.runtime import Runtime


def _other_host(runtime: Runtime) -> tuple[Database, PostgresFileStore]:
    """A second process's view: its own engine and connections on the same database."""
    db = Database(runtime.database_url, pool_size=1)
    return db, PostgresFileStore(db.engine)


def _key() -> str:
    return f"tests/{uuid.uuid4().hex}/file.bin"


def _rows_of_key(runtime: Runtime, key: str) -> int:
    with runtime.db.engine.connect() as conn:
        return int(
            conn.scalar(select(func.count()).select_from(StoredFileRow).where(StoredFileRow.key == key))
        )


def test_the_default_store_is_postgres_so_a_second_host_needs_no_shared_disk(runtime: Runtime) -> None:
    assert runtime.settings.file_store == "postgres"
    assert isinstance(runtime.files, PostgresFileStore)


def test_a_file_put_by_one_process_is_read_whole_by_another(runtime: Runtime) -> None:
    key = _key()
    content = os.urandom(2 * CHUNK_BYTES + 12345)
    pieces = [content[i : i + 300_000] for i in range(0, len(content), 300_000)]  # not chunk-aligned
    stored = runtime.files.put(key, pieces)
    db, other = _other_host(runtime)
    try:
        assert other.exists(key)
        assert other.stat(key) == stored
        chunks = list(other.open(key))
        assert b"".join(chunks) == content
        assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, 12345]
        assert other.delete(key) is True
        assert not runtime.files.exists(key)
        with pytest.raises(FileNotStoredError):
            runtime.files.open(key)
        assert other.delete(key) is False
    finally:
        db.dispose()


def test_a_put_replaces_the_file_and_leaves_no_chunks_of_the_old_one(runtime: Runtime) -> None:
    key = _key()
    runtime.files.put(key, [b"a" * (CHUNK_BYTES + 1)])
    runtime.files.put(key, [b"second"])
    assert b"".join(runtime.files.open(key)) == b"second"
    with runtime.db.engine.connect() as conn:
        [file_id] = conn.scalars(select(StoredFileRow.id).where(StoredFileRow.key == key)).all()
        chunks = conn.scalar(select(func.count()).select_from(StoredFileChunk))
        mine = conn.scalar(
            select(func.count()).select_from(StoredFileChunk).where(StoredFileChunk.file_id == file_id)
        )
        orphans = conn.scalar(
            select(func.count())
            .select_from(StoredFileChunk)
            .where(~StoredFileChunk.file_id.in_(select(StoredFileRow.id)))
        )
    assert mine == 1 and chunks and orphans == 0


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs/path", "a//b", "a/./b", "", "a\\b", "é"])
def test_a_key_that_could_leave_the_store_is_refused(runtime: Runtime, tmp_path: Path, key: str) -> None:
    for store in (runtime.files, LocalFileStore(tmp_path)):
        with pytest.raises(ValueError, match="file store key"):
            store.put(key, [b"x"])
        with pytest.raises(ValueError, match="file store key"):
            list(store.open(key))
    assert list(tmp_path.iterdir()) == []


def test_a_put_that_fails_halfway_leaves_the_old_file_and_nothing_else(runtime: Runtime) -> None:
    key = _key()
    runtime.files.put(key, [b"old complete file"])

    def broken() -> Iterator[bytes]:
        yield b"n" * (3 * CHUNK_BYTES)
        raise OSError("upload connection reset")

    with pytest.raises(OSError, match="reset"):
        runtime.files.put(key, broken())
    assert b"".join(runtime.files.open(key)) == b"old complete file"
    with runtime.db.engine.connect() as conn:
        pending = conn.scalar(
            select(func.count()).select_from(StoredFileRow).where(StoredFileRow.key.is_(None))
        )
    assert pending == 0


_KILLED_WRITER = """
import sys, time
from core.db import Database
from core.file_store import PostgresFileStore

def chunks():
    for _ in range(3):
        yield b"k" * (1 << 20)
    print("written", flush=True)
    time.sleep(60)
    yield b"never"

PostgresFileStore(Database(sys.argv[1], pool_size=1).engine).put(sys.argv[2], chunks())
"""


def test_a_writer_killed_mid_put_leaves_nothing_visible(runtime: Runtime, repo_root: Path) -> None:
    key = _key()
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, runtime.database_url, key],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
        assert not runtime.files.exists(key)  # three chunks are in, but the file has no key yet
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the server rolls the dead connection's transaction back
        with runtime.db.engine.connect() as conn:
            pending = conn.scalar(
                select(func.count()).select_from(StoredFileRow).where(StoredFileRow.key.is_(None))
            )
        if pending == 0:
            break
        time.sleep(0.1)
    assert pending == 0
    assert _rows_of_key(runtime, key) == 0


def test_put_and_open_stream_in_bounded_memory(runtime: Runtime) -> None:
    key = _key()
    piece = os.urandom(256 * 1024)
    tracemalloc.start()
    try:
        runtime.files.put(key, (piece for _ in range(64)))  # 16 MiB
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        total = sum(len(chunk) for chunk in runtime.files.open(key))
        open_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        runtime.files.delete(key)
    assert total == 64 * len(piece)
    assert put_peak < 6 * CHUNK_BYTES, put_peak
    assert open_peak < 8 * CHUNK_BYTES, open_peak


def test_the_migration_creates_the_file_tables_as_the_models_declare_them(runtime: Runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import dnc.models  # noqa: F401 - dnc_list_versions.index_sha256
    from core.db import Base

    ours = {"stored_files", "stored_file_chunks", "dnc_list_versions"}
    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)

    def table_of(diff: object) -> str | None:
        if isinstance(diff, list):
            return table_of(diff[0])
        assert isinstance(diff, tuple)
        for item in diff[1:]:
            table = getattr(item, "table", None)
            if table is not None:
                return str(table.name)
            if isinstance(item, str) and item in ours:
                return item
            if getattr(item, "name", None) in ours:
                return str(item.name)
        return None

    assert [d for d in diffs if table_of(d) in ours] == []
