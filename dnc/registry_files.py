"""Number-list files as the FTC (and list vendors) ship them, parsed in bulk with numpy.

Full list: one number per line, `NNNNNNNNNN` or `NNN,NNNNNNN` (area code, number), LF or CRLF.
Change list: the same, followed by `,A` (added) or `,D` (deleted); `ADD`/`DELETE` are accepted too.
Dated list (reassigned numbers): `NUMBER,YYYY-MM-DD` (the disconnect date).

Files are read in chunks; a chunk whose lines all have one width is decoded as a byte matrix without a
Python loop, anything else line by line. Every bad line is reported with its line number (up to
`MAX_ERRORS`; reading stops there), and the caller discards everything parsed when any error is found.
Lines longer than `FileLimits.max_list_line_bytes` and files with more lines than the list limits are
refused at the line that breaks the limit, so a hostile file costs bounded memory.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from core.errors import ValidationError
from core.file_limits import LIMITS, FileLimitError, FileLimits, bounded_lines

CHUNK_BYTES = 64 * 1024 * 1024
MAX_ERRORS = 20
_POW10 = 10 ** np.arange(9, -1, -1, dtype=np.int64)
_LINE = re.compile(r"([2-9]\d{2}),?([2-9]\d{6})")
_CHANGE = re.compile(r"([2-9]\d{2}),?([2-9]\d{6}),(A|D|ADD|DELETE)", re.IGNORECASE)
_DATED = re.compile(r"\+?1?([2-9]\d{2}),?([2-9]\d{6}),(\d{4}-\d{2}-\d{2})")

FULL_FORMS = "NNNNNNNNNN or NNN,NNNNNNN"
CHANGE_FORMS = "NNNNNNNNNN,A|D or NNN,NNNNNNN,A|D"


@dataclass
class LineError:
    line: int
    text: str
    rule: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text[:60]!r}: {self.rule}"


class MalformedFileError(ValidationError):
    """A list file with bad lines; nothing from it was imported."""

    def __init__(self, path: Path, errors: list[LineError]) -> None:
        self.path = path
        self.errors = errors
        more = " (and more)" if len(errors) >= MAX_ERRORS else ""
        message = f"{path.name}: {len(errors)} malformed line(s){more}, nothing imported: "
        super().__init__(message + "; ".join(map(str, errors)), row=errors[0].line if errors else None)


@dataclass
class ParsedChunk:
    numbers: np.ndarray  # int64 national numbers
    is_add: np.ndarray | None  # change lists: True = add, False = delete
    bytes_read: int
    total_bytes: int


@dataclass
class _Errors:
    path: Path
    items: list[LineError] = field(default_factory=list)

    def add(self, line: int, text: str, rule: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(LineError(line, text, rule))

    def raise_if_full(self) -> None:
        """Stop reading at the `MAX_ERRORS`th bad line: the file is refused either way."""
        if len(self.items) >= MAX_ERRORS:
            raise MalformedFileError(self.path, self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise MalformedFileError(self.path, self.items)


def _line_too_long(line: int, limits: FileLimits) -> FileLimitError:
    limit = limits.max_list_line_bytes
    return FileLimitError(
        f"the line is longer than the {limit}-byte line limit of list files",
        row=line,
        limit="line_bytes",
        value=limit,
    )


def _chunks(path: Path, limits: FileLimits = LIMITS) -> Iterator[tuple[bytes, int]]:
    """Chunks of whole lines, with the byte offset reached after each."""
    offset = 0
    lines = 0
    with path.open("rb") as fh:
        rest = b""
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block:
                if rest:
                    yield rest + b"\n", offset
                return
            offset += len(block)
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if len(data) - cut > limits.max_list_line_bytes:
                raise _line_too_long(lines + data.count(b"\n", 0, cut) + 1, limits)
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            lines += data.count(b"\n", 0, cut)
            if lines > limits.max_list_rows:
                raise FileLimitError(
                    f"the file has more than {limits.max_list_rows} lines (the list-file limit)",
                    row=limits.max_list_rows + 1,
                    limit="rows",
                    value=limits.max_list_rows,
                )
            yield data[:cut], offset - len(rest)


def _digits_value(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, ok) of a (rows, 10) matrix of ASCII digits, checking NPA and NXX start with 2-9.

    Works in uint8 as long as it can (pairs of digits fit a byte) to keep memory traffic low."""
    digits = matrix - np.uint8(48)  # anything below '0' wraps around to >= 208
    ok = (digits[:, 0] >= 2) & (digits[:, 3] >= 2)
    if (digits > 9).any():  # rare: only then pay for the per-row reduction
        ok &= (digits <= 9).all(axis=1)
    pairs = digits[:, 0::2] * np.uint8(10) + digits[:, 1::2]
    value = pairs[:, 0].astype(np.int64)
    for col in range(1, 5):
        value = value * 100 + pairs[:, col]
    return value, ok


def _fixed_width(data: bytes, change: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """Decode a chunk whose lines share one of the known widths; None when they do not."""
    raw = np.frombuffer(data, dtype=np.uint8)
    crlf = len(raw) >= 2 and raw[-2] == 13
    for comma in (False, True):
        width = 10 + comma + (2 if change else 0) + crlf + 1
        if len(raw) % width:
            continue
        rows = raw.reshape(-1, width)
        if not (rows[:, -1] == 10).all() or (crlf and not (rows[:, -2] == 13).all()):
            continue
        if comma and not (rows[:, 3] == 44).all():
            continue
        digits = np.concatenate([rows[:, :3], rows[:, 4:11]], axis=1) if comma else rows[:, :10]
        values, ok = _digits_value(digits)
        is_add = None
        if change:
            flag = rows[:, 10 + comma + 1] | 0x20  # lower case
            if not (rows[:, 10 + comma] == 44).all():
                continue
            ok &= (flag == ord("a")) | (flag == ord("d"))
            is_add = flag == ord("a")
        return values, ok, is_add
    return None


LINE_BY_LINE_BYTES = 1024 * 1024  # irregular chunks are split into slices this big: bounded Python objects


def _line_by_line(
    data: bytes, first_line: int, change: bool, errors: _Errors, limits: FileLimits = LIMITS
) -> tuple[np.ndarray, np.ndarray | None]:
    values = array("q")
    adds = array("b")
    pattern = _CHANGE if change else _LINE
    line = first_line
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + LINE_BY_LINE_BYTES, len(data) - 1)) + 1 or len(data)
        for raw_line in data[start:end].split(b"\n")[:-1]:
            if len(raw_line) > limits.max_list_line_bytes:
                raise _line_too_long(line, limits)
            text = raw_line.decode("latin-1").strip()
            if text:
                match = pattern.fullmatch(text)
                if match is None:
                    errors.add(line, text, f"expected {CHANGE_FORMS if change else FULL_FORMS}")
                    errors.raise_if_full()
                else:
                    values.append(int(match.group(1) + match.group(2)))
                    if change:
                        adds.append(match.group(3).upper().startswith("A"))
            line += 1
        start = end
    numbers = np.frombuffer(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
    return numbers, (np.frombuffer(adds, dtype=np.int8).astype(bool) if change else None)


def parse_number_file(path: Path, *, change_list: bool) -> Iterator[ParsedChunk]:
    """Yield parsed chunks; raises `MalformedFileError` (after the last chunk at the latest) on bad lines.

    Callers must treat the import as failed when the error is raised, even after some chunks."""
    total = path.stat().st_size
    errors = _Errors(path)
    line = 1
    for data, offset in _chunks(path):
        lines = data.count(b"\n")
        decoded = _fixed_width(data, change_list)
        if decoded is not None:
            values, ok, is_add = decoded
            if not ok.all():
                texts = data.split(b"\n")
                for row in np.flatnonzero(~ok)[:MAX_ERRORS]:
                    text = texts[row].decode("latin-1")
                    errors.add(
                        line + int(row), text, f"expected {CHANGE_FORMS if change_list else FULL_FORMS}"
                    )
                errors.raise_if_full()
                values, is_add = values[ok], (is_add[ok] if is_add is not None else None)
        else:
            values, is_add = _line_by_line(data, line, change_list, errors)
        line += lines
        if not errors.items:
            yield ParsedChunk(values, is_add, offset, total)
    errors.raise_if_any()


def parse_dated_file(path: Path, limits: FileLimits = LIMITS) -> tuple[np.ndarray, np.ndarray]:
    """(national numbers, disconnect dates as days since 1970-01-01) of a reassigned-numbers file."""
    errors = _Errors(path)
    with path.open("rb") as fh:
        lines = bounded_lines(
            fh, max_bytes=limits.max_list_line_bytes, max_rows=limits.max_dated_rows, what="reassigned lists"
        )
        numbers, days = _dated_numbers(errors, enumerate(lines, start=1))
    errors.raise_if_any()
    return np.frombuffer(numbers, dtype=np.int64).copy(), np.frombuffer(days, dtype=np.int32).copy()


def _dated_numbers(errors: _Errors, lines: Iterator[tuple[int, str]]) -> tuple[array[int], array[int]]:
    numbers = array("q")
    days = array("i")
    epoch = date(1970, 1, 1)
    for line_no, raw in lines:
        text = raw.strip()
        if not text:
            continue
        match = _DATED.fullmatch(text)
        if match is None:
            errors.add(line_no, text, "expected NUMBER,YYYY-MM-DD (number and disconnect date)")
            errors.raise_if_full()
            continue
        try:
            day = date.fromisoformat(match.group(3))
        except ValueError:
            errors.add(line_no, text, "the disconnect date is not a real date")
            continue
        numbers.append(int(match.group(1) + match.group(2)))
        days.append((day - epoch).days)
    return numbers, days
