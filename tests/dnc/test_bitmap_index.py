"""The membership index against a plain Python set: builds, change lists (sorted or not, with duplicates),
and version checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnc import bitmap_index
from dnc.bitmap_index import BASE, IndexBuilder, IndexHandle, StaleIndexError, apply_changes

# A few area codes' worth of numbers, so that bytes and slots are shared often.
numbers = st.lists(st.integers(min_value=BASE, max_value=BASE + 3 * 10_000_000 + 99), max_size=200)


@settings(max_examples=150, deadline=None)
@given(first=numbers, second=numbers, clear=numbers, presorted=st.booleans())
def test_setting_and_clearing_bits_matches_a_set(
    first: list[int], second: list[int], clear: list[int], presorted: bool
) -> None:
    bits = np.zeros(4 * 10_000_000 // 8, dtype=np.uint8)
    model: set[int] = set()
    for batch, value in ((first, True), (second, True), (clear, False)):
        array = np.array(sorted(batch) if presorted else batch, dtype=np.int64)
        bitmap_index._set_bits(bits, array - BASE, value)
        model = model | set(batch) if value else model - set(batch)
    probe = np.array(first + second + clear + [BASE + 5], dtype=np.int64)
    assert bitmap_index.probe(bits, probe).tolist() == [n in model for n in probe.tolist()]


def test_change_list_applies_in_place_and_moves_the_version(tmp_path: Path) -> None:
    builder = IndexBuilder(tmp_path / "v1", seq=1)
    builder.add(np.array([2025550143, 2025550144, 9995550100], dtype=np.int64))
    assert builder.finish() == 3
    handle = IndexHandle(tmp_path / "v1", seq=1)
    result = apply_changes(
        tmp_path / "v1",
        from_seq=1,
        to_seq=2,
        adds=np.array([2025550145, 2025550145, 2025550143], dtype=np.int64),
        deletes=np.array([9995550100, 3035550100], dtype=np.int64),
    )
    assert (result.added, result.deleted, result.count) == (1, 1, 3)
    with pytest.raises(StaleIndexError):
        handle.verify()  # a reader still expecting version 1 notices
    moved = IndexHandle(tmp_path / "v1", seq=2)
    query = np.array([2025550143, 2025550145, 9995550100, 2015550100, -1], dtype=np.int64)
    assert moved.contains(query).tolist() == [True, True, False, False, False]


def test_a_change_list_refuses_an_index_that_is_not_at_the_expected_version(tmp_path: Path) -> None:
    IndexBuilder(tmp_path / "v1", seq=1).finish()
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(StaleIndexError):
        apply_changes(tmp_path / "v1", from_seq=2, to_seq=3, adds=empty, deletes=empty)
