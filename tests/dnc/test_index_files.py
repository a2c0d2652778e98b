"""Index packs and the per-host cache: sparse bitmaps travel without their holes, a pack that is not
what the database recorded is refused, and an entry a process maps is never evicted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.file_store import LocalFileStore
from dnc import bitmap_index, index_files
from dnc.index_files import (
    Delta,
    IndexPackError,
    cache_root,
    chain_name,
    local_index,
    pack,
    pack_delta,
    publish,
    publish_delta,
    unpack,
    work_dir,
)


def _index(home: Path, numbers: list[int]) -> Path:
    directory = work_dir(home)
    builder = bitmap_index.IndexBuilder(directory, seq=3)
    builder.add(np.array(numbers, dtype=np.int64))
    builder.finish()
    return directory


def test_a_sparse_bitmap_is_packed_without_its_holes_and_unpacked_identical(tmp_path: Path) -> None:
    source = _index(tmp_path, [2025550143, 9725550100])
    packed = b"".join(pack(source))
    assert len(packed) < 8 * 1024 * 1024  # two touched pages of a 1 GB file, not the gigabyte
    target = tmp_path / "copy"
    unpack([packed[i : i + 1000] for i in range(0, len(packed), 1000)], target)
    handle = bitmap_index.IndexHandle(target, 3)
    assert handle.contains(np.array([2025550143, 9725550100, 2025550144])).tolist() == [True, True, False]
    assert os.stat(target / "bits.u8").st_blocks * 512 < 8 * 1024 * 1024  # still sparse on disk


def test_a_stored_index_fetched_by_another_host_must_match_the_recorded_hash(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "shared")
    stored = publish(
        store, tmp_path / "api-host", _index(tmp_path / "api-host", [2025550143]), "dnc/x.pack", None
    )
    dialer_home = tmp_path / "dialer-host"
    held = local_index(store, dialer_home, "dnc/x.pack", stored.sha256)
    assert held.directory == cache_root(dialer_home) / stored.sha256
    assert bitmap_index.IndexHandle(held.directory, 3).contains(np.array([2025550143])).tolist() == [True]
    with pytest.raises(IndexPackError, match="SHA-256"):
        local_index(store, tmp_path / "third-host", "dnc/x.pack", "0" * 64)
    assert [p.name for p in (cache_root(tmp_path / "third-host") / "building").iterdir()] == []


def test_an_unused_entry_is_evicted_but_one_a_process_maps_is_kept(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "shared")
    home = tmp_path / "host"
    one = publish(store, home, _index(home, [2025550143]), "dnc/one.pack", None)
    two = publish(store, home, _index(home, [2025550144]), "dnc/two.pack", None)
    held = local_index(store, home, "dnc/one.pack", one.sha256)
    later = time.time() + index_files.CACHE_KEEP_S + 1
    assert index_files.evict_unused(home, keep=set(), now=later) == [two.sha256]
    held.release()
    assert index_files.evict_unused(home, keep=set(), now=later) == [one.sha256]


def test_a_chained_version_is_built_from_the_cached_base_and_its_checked_deltas(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "shared")
    base = publish(
        store, tmp_path / "api-host", _index(tmp_path / "api-host", [2025550143]), "dnc/b.pack", None
    )
    deltas = [
        publish_delta(
            store, Delta(3, 4, np.array([2025550144]), np.array([2025550143])), "dnc/4.delta", None
        ),
        publish_delta(
            store, Delta(4, 5, np.array([2025550145]), np.array([], dtype=np.int64)), "dnc/5.delta", None
        ),
    ]
    home = tmp_path / "dialer-host"
    held = local_index(store, home, "dnc/b.pack", base.sha256, deltas)
    assert held.directory == cache_root(home) / chain_name(base.sha256, deltas)
    probe = np.array([2025550143, 2025550144, 2025550145])
    assert bitmap_index.IndexHandle(held.directory, 5).contains(probe).tolist() == [False, True, True]
    assert bitmap_index.IndexHandle(cache_root(home) / base.sha256, 3).contains(probe).tolist() == [
        True,
        False,
        False,
    ]

    # A delta replaced in the store by other content is refused, and nothing is built or fetched for it.
    store.put("dnc/5.delta", pack_delta(Delta(4, 5, np.array([2025550146]), np.array([], dtype=np.int64))))
    with pytest.raises(IndexPackError, match="SHA-256"):
        local_index(store, tmp_path / "third-host", "dnc/b.pack", base.sha256, deltas)
    assert not (tmp_path / "third-host").exists()
