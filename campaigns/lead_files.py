"""Reading uploaded lead files row by row, never whole: CSV (comma, tab, pipe or semicolon; UTF-8, UTF-8
with BOM or Latin-1, decided per line so a file mixing them still reads) and XLSX (openpyxl read-only).

`LeadFile(path).rows()` yields `(line_number, [cell, ...])` for every non-empty row, header included; line
numbers are those a spreadsheet shows (the first row is 1), so error reports point at the right row.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from core.errors import ValidationError

DELIMITERS = (",", "\t", "|", ";")
# Largest single field the CSV reader accepts; a row with a longer one fails the import with its line.
MAX_FIELD_BYTES = 64 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
# NUL cannot be stored in PostgreSQL text; the importer uses the separator controls 0x1D-0x1F itself.
_CONTROLS = re.compile("[\x00\x1d-\x1f]")


def strip_controls(text: str) -> str:
    return _CONTROLS.sub("", text) if _CONTROLS.search(text) else text


def decode_line(raw: bytes) -> str:
    """UTF-8 when the line is valid UTF-8, otherwise Windows-1252/Latin-1 (what spreadsheets export)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


_LINE = re.compile(r"[^\n]*\n")
_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20


def _line_blocks(fh: BinaryIO) -> Iterator[list[str]]:
    """The file's lines, decoded, a chunk at a time (the csv reader then walks them without a Python call
    per line). A chunk that is valid UTF-8 is decoded at once; any other is decoded line by line."""
    rest = b""
    first = True
    while chunk := fh.read(CHUNK_BYTES):
        if first:
            chunk, first = chunk.removeprefix(_BOM), False
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest, block = data[cut:], data[:cut]
        if not block:
            continue  # no line end yet: a long line continues in the next chunk
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            text = "".join(decode_line(line) for line in block.splitlines(keepends=True))
        yield _LINE.findall(strip_controls(text))
    if rest:
        yield [strip_controls(decode_line(rest)) + "\n"]


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most columns, the same number on each line."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may have cut the last line short
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths:
            continue
        header_width = widths[0]
        consistent = sum(1 for w in widths if w == header_width)
        score = (consistent if header_width > 1 else 0, header_width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == XLSX_MAGIC


class LeadFile:
    """One uploaded file, read row by row; `fraction_read` tells how far the reading has got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = max(path.stat().st_size, 1)
        self.xlsx = is_xlsx(path)
        self._fraction = 0.0
        self._fh: BinaryIO | None = None

    @property
    def fraction_read(self) -> float:
        if self._fh is not None and not self._fh.closed:
            return self._fh.tell() / self.size
        return self._fraction

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-empty row (header included) as (line number, cells)."""
        yield from (self._xlsx_rows() if self.xlsx else self._csv_rows())
        self._fraction = 1.0

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        with open(self.path, "rb") as fh:
            self._fh = fh
            sample = decode_line(fh.read(SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf"))
            fh.seek(0)
            delimiter = sniff_delimiter(sample)
            reader = csv.reader(
                itertools.chain.from_iterable(_line_blocks(fh)), delimiter=delimiter, strict=False
            )
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ValidationError(
                        f"line {start}: the file cannot be read as CSV ({exc})", row=start
                    ) from exc
                if "".join(row).strip():
                    yield start, row

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        # Opened as a file object: given a path, openpyxl refuses names not ending in .xlsx, and uploads
        # are stored as <random>.upload.
        fh = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below, after the last row
        try:
            workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except (InvalidFileException, KeyError, OSError, ValueError) as exc:
            fh.close()
            raise ValidationError(f"the file is not a readable XLSX workbook ({exc})", field="file") from exc
        try:
            sheet = workbook.worksheets[0]
            total = max(sheet.max_row or 1, 1)
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                row = [_cell_text(v) for v in values]
                while row and not row[-1]:
                    row.pop()
                if any(cell.strip() for cell in row):
                    self._fraction = min(number / total, 1.0)
                    yield number, row
        finally:
            workbook.close()
            fh.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed into Excel come back as 2025550143.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return strip_controls(str(value))


csv.field_size_limit(MAX_FIELD_BYTES)
