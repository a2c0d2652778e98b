"""Index of a dated list (reassigned numbers: number + disconnect date) as two sorted numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnc.bitmap_index import IndexMeta, StaleIndexError


def write_dated_index(directory: Path, seq: int, numbers: np.ndarray, days: np.ndarray) -> int:
    """Keep, per number, its latest disconnect date; returns how many numbers are in the index."""
    directory.mkdir(parents=True, exist_ok=False)
    order = np.lexsort((days, numbers))
    numbers, days = numbers[order], days[order]
    last = np.ones(len(numbers), dtype=bool)
    last[:-1] = numbers[1:] != numbers[:-1]
    np.save(directory / "numbers.npy", numbers[last])
    np.save(directory / "days.npy", days[last])
    count = int(last.sum())
    IndexMeta(seq=seq, state="clean", count=count).write(directory)
    return count


class DatedIndexHandle:
    def __init__(self, directory: Path, seq: int) -> None:
        self.directory = directory
        self.seq = seq
        self.verify()
        self.numbers = np.load(directory / "numbers.npy", mmap_mode="r")
        self.days = np.load(directory / "days.npy", mmap_mode="r")
        self._first_day: int | None = None

    def verify(self) -> None:
        try:
            meta = IndexMeta.read(self.directory)
        except FileNotFoundError as exc:
            raise StaleIndexError(f"{self.directory}: index files are missing") from exc
        if meta.state != "clean" or meta.seq != self.seq:
            raise StaleIndexError(f"{self.directory}: index is at {meta.seq}, the database says {self.seq}")

    def first_day(self) -> int:
        """The earliest disconnect date the data holds (days since 1970-01-01): how far back it reaches."""
        if self._first_day is None:
            self._first_day = int(self.days.min()) if len(self.days) else 2**62
        return self._first_day

    def lookup(self, national: np.ndarray) -> np.ndarray:
        """Disconnect day per number (days since 1970-01-01), -1 when the number is not listed."""
        out = np.full(len(national), -1, dtype=np.int64)
        if len(self.numbers) == 0:
            return out
        pos = np.minimum(np.searchsorted(self.numbers, national), len(self.numbers) - 1)
        hit = self.numbers[pos] == national
        out[hit] = self.days[pos[hit]]
        return out
