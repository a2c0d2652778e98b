"""The compact membership index: one bit per possible NANP number, one 1.25 MB slot per area code.

Layout of an index directory:
- `bits.u8`: a sparse file of 800 slots (area codes 200..999) of 10**7 bits each; a number's bit is at
  position `national - 2_000_000_000`. Area codes never written take no disk space and no memory, so a
  registry over ~330 area codes costs ~410 MB, mapped read-only by every process that checks numbers.
- `meta.json`: format, `seq` (the list version the bits represent), `state` (`clean`, or `applying` while
  a change list is being written) and the record count.

Readers compare `seq`/`state` with the version PostgreSQL says is current before and after every probe
(`IndexHandle.verify`), so a half-applied change list or a version mismatch is never answered silently:
the engine turns it into the `list_index_stale` reason code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIRST_NPA = 200
BASE = FIRST_NPA * 10_000_000
SLOT_BITS = 10_000_000
SLOTS = 800
FILE_BYTES = SLOTS * SLOT_BITS // 8
FORMAT = "clearline-nanp-bitmap-1"


class StaleIndexError(Exception):
    """The index on disk is not the version the database says is current (or is mid-update)."""


@dataclass(frozen=True)
class IndexMeta:
    seq: int
    state: str
    count: int

    @classmethod
    def read(cls, directory: Path) -> IndexMeta:
        data = json.loads((directory / "meta.json").read_text())
        if data.get("format") != FORMAT:
            raise StaleIndexError(f"{directory}: unknown index format {data.get('format')!r}")
        return cls(seq=int(data["seq"]), state=str(data["state"]), count=int(data["count"]))

    def write(self, directory: Path) -> None:
        tmp = directory / "meta.json.tmp"
        with tmp.open("w") as fh:
            json.dump({"format": FORMAT, "seq": self.seq, "state": self.state, "count": self.count}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / "meta.json")


def valid_positions(national: np.ndarray) -> np.ndarray:
    return (national >= BASE) & (national < BASE + SLOTS * SLOT_BITS)


def _set_bits(bits: np.ndarray, positions: np.ndarray, value: bool) -> None:
    """Set or clear bits. numpy does not accumulate repeated indices in one fancy-indexed assignment, so
    sorted input (FTC files are sorted) ORs each byte's bits together first; other input is grouped by
    bit-in-byte, so that repeated bytes within one assignment always write the same value."""
    byte = positions >> 3
    bit = (positions & 7).astype(np.uint8)
    if len(byte) > 1 and (byte[1:] >= byte[:-1]).all():
        starts = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        masks = np.bitwise_or.reduceat(np.uint8(1) << bit, starts)
        if value:
            bits[byte[starts]] |= masks
        else:
            bits[byte[starts]] &= ~masks
        return
    for k in range(8):
        chosen = byte[bit == k]
        if value:
            bits[chosen] |= np.uint8(1 << k)
        else:
            bits[chosen] &= np.uint8(0xFF ^ (1 << k))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's hash-based unique is several times slower on int64 here); sorted
    positions also take the one-pass path of `_set_bits`."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def probe(bits: np.ndarray, national: np.ndarray) -> np.ndarray:
    """Membership of each national number (int64); numbers outside 200..999 area codes are absent."""
    ok = valid_positions(national)
    pos = np.where(ok, national - BASE, 0)
    return ok & ((bits[pos >> 3] >> (pos & 7).astype(np.uint8)) & 1).astype(bool)


class IndexBuilder:
    """Writes a new index directory from scratch (a full import); nothing is visible until `finish`."""

    def __init__(self, directory: Path, seq: int) -> None:
        directory.mkdir(parents=True, exist_ok=False)
        self.directory = directory
        self.seq = seq
        with (directory / "bits.u8").open("wb") as fh:
            fh.truncate(FILE_BYTES)
        self.bits = np.memmap(directory / "bits.u8", dtype=np.uint8, mode="r+", shape=(FILE_BYTES,))
        self.touched = np.zeros(SLOTS, dtype=bool)

    def add(self, national: np.ndarray) -> None:
        positions = national - BASE
        self.touched |= np.bincount(positions // SLOT_BITS, minlength=SLOTS).astype(bool)
        _set_bits(self.bits, positions, True)

    def finish(self) -> int:
        # Count only slots that were written: reading the holes would fault in a gigabyte of zero pages.
        slot_bytes = SLOT_BITS // 8
        count = sum(
            int(np.bitwise_count(self.bits[s * slot_bytes : (s + 1) * slot_bytes]).sum(dtype=np.int64))
            for s in np.flatnonzero(self.touched)
        )
        self.bits.flush()
        del self.bits
        IndexMeta(seq=self.seq, state="clean", count=count).write(self.directory)
        return count


@dataclass
class ChangeResult:
    added: int  # numbers that were absent and are now present
    deleted: int  # numbers that were present and are now absent
    count: int


def apply_changes(
    directory: Path, *, from_seq: int, to_seq: int, adds: np.ndarray, deletes: np.ndarray
) -> ChangeResult:
    """Apply a change list in place: version `from_seq` becomes `to_seq`. `dnc.lists` applies it to a
    private copy of the current index, stored as the new version, so no reader sees it change."""
    meta = IndexMeta.read(directory)
    if meta.seq != from_seq or meta.state != "clean":
        raise StaleIndexError(f"{directory}: index is at {meta.seq}/{meta.state}, expected {from_seq}/clean")
    IndexMeta(seq=from_seq, state="applying", count=meta.count).write(directory)
    bits = np.memmap(directory / "bits.u8", dtype=np.uint8, mode="r+", shape=(FILE_BYTES,))
    adds, deletes = normalized_changes(adds, deletes)
    newly_added = adds[~probe(bits, adds)]
    really_deleted = deletes[probe(bits, deletes)]
    _set_bits(bits, newly_added - BASE, True)
    _set_bits(bits, really_deleted - BASE, False)
    bits.flush()
    del bits
    count = meta.count + len(newly_added) - len(really_deleted)
    IndexMeta(seq=to_seq, state="clean", count=count).write(directory)
    return ChangeResult(len(newly_added), len(really_deleted), count)


def normalized_changes(adds: np.ndarray, deletes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A change list's adds and deletes as sorted distinct numbers: what a stored delta holds."""
    return _sorted_unique(adds), _sorted_unique(deletes)


def _among(sorted_values: np.ndarray, national: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(national), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_values, national), len(sorted_values) - 1)
    return np.asarray(sorted_values[pos] == national)


def contains_after(
    bits: np.ndarray, changes: list[tuple[np.ndarray, np.ndarray]], national: np.ndarray
) -> np.ndarray:
    """Membership after applying the normalized `(adds, deletes)` change lists in order to `bits`,
    without writing them: exactly what `apply_changes` would leave (a number both added and deleted by
    one change list ends up deleted)."""
    member = probe(bits, national)
    for adds, deletes in changes:
        member = (member | _among(adds, national)) & ~_among(deletes, national)
    return member


class IndexHandle:
    """A read-only mapping of one index directory, expected to be at version `seq`."""

    def __init__(self, directory: Path, seq: int) -> None:
        self.directory = directory
        self.seq = seq
        self.verify()
        self.bits = np.memmap(directory / "bits.u8", dtype=np.uint8, mode="r", shape=(FILE_BYTES,))

    def verify(self) -> None:
        try:
            meta = IndexMeta.read(self.directory)
        except FileNotFoundError as exc:
            raise StaleIndexError(f"{self.directory}: index files are missing") from exc
        if meta.state != "clean" or meta.seq != self.seq:
            raise StaleIndexError(
                f"{self.directory}: index is at version {meta.seq} ({meta.state}), the database says {self.seq}"
            )

    def contains(self, national: np.ndarray) -> np.ndarray:
        return probe(self.bits, national)
