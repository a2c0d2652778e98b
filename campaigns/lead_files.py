"""Reading uploaded lead files row by row, never whole: CSV (comma, tab, pipe or semicolon; UTF-8, UTF-8
with BOM or Latin-1, decided per line so a file mixing them still reads) and XLSX (openpyxl read-only).

`LeadFile(path).rows()` yields `(line_number, [cell, ...])` for every non-empty row, header included; line
numbers are those a spreadsheet shows (the first row is 1), so error reports point at the right row.

Every file is read under `core.file_limits.FileLimits` (columns, characters per cell and per row, rows,
and for XLSX the unpacked size, the shared-strings size and the compression ratio): the first row over a
limit stops the read with `FileLimitError` naming the row and the limit, so memory stays bounded.
"""

from __future__ import annotations

import csv
import itertools
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, BinaryIO

from core.errors import ValidationError
from core.file_limits import LIMITS, FileLimitError, FileLimits, allow_csv_cells_up_to, check_cell_lengths

DELIMITERS = (",", "\t", "|", ";")
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
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
CHUNK_BYTES = 1 << 20


class _LineBlocks:
    """The file's lines, decoded, a chunk at a time (the csv reader then walks them without a Python call
    per line). A chunk that is valid UTF-8 is decoded at once; any other is decoded line by line.

    Checked once per chunk, so the check costs nothing per line: no line may be longer than the row
    limit, and no row may still be open after a whole further chunk (quoted line breaks chaining lines
    into one endless row); `row_started` is told by the reader where the current row began."""

    def __init__(self, fh: BinaryIO, limits: FileLimits) -> None:
        self.fh = fh
        self.limits = limits
        self.lines_before = 0  # lines handed out before the current block
        self.row_started = 1  # line where the reader's current row began

    def _too_long(self, line: int) -> FileLimitError:
        limit = self.limits.max_row_chars
        return FileLimitError(
            f"the row is longer than the {limit}-character row limit",
            row=line,
            limit="row_chars",
            value=limit,
        )

    def __iter__(self) -> Iterator[list[str]]:
        rest = b""
        first = True
        limit = self.limits.max_row_chars
        previous = 0  # lines in the block handed out last
        while chunk := self.fh.read(CHUNK_BYTES):
            if first:
                chunk, first = chunk.removeprefix(_BOM), False
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            rest, block = data[cut:], data[:cut]
            if len(rest) > limit:
                raise self._too_long(self.lines_before + block.count(b"\n") + 1)
            if not block:
                continue  # no line end yet: a long line continues in the next chunk
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                text = "".join(decode_line(line) for line in block.splitlines(keepends=True))
            lines = _LINE.findall(strip_controls(text))
            if previous and self.row_started <= self.lines_before - previous:
                raise self._too_long(self.row_started)  # the open row spans more than a whole chunk
            longest = max(map(len, lines))
            if longest > limit + 2:  # the line end (CR LF) is not part of the row
                at = next(i for i, line in enumerate(lines) if len(line) == longest)
                raise self._too_long(self.lines_before + at + 1)
            yield lines
            self.lines_before += len(lines)
            previous = len(lines)
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

    def __init__(self, path: Path, limits: FileLimits = LIMITS) -> None:
        self.path = path
        self.limits = limits
        self.size = max(path.stat().st_size, 1)
        self.xlsx = is_xlsx(path)
        self.chars_read = 0  # characters of the rows handed out so far (callers bound their batches by it)
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

    def _check_row(self, number: int, row: list[str]) -> None:
        """Columns, cell and row size of one row (the reader has already bounded what it holds)."""
        limits = self.limits
        if len(row) > limits.max_columns:
            raise FileLimitError(
                f"{len(row)} columns, more than the {limits.max_columns}-column limit",
                row=number,
                limit="columns",
                value=limits.max_columns,
            )
        chars = sum(map(len, row))
        if chars > limits.max_row_chars:
            raise FileLimitError(
                f"the row has {chars} characters, more than the {limits.max_row_chars}-character row limit",
                row=number,
                limit="row_chars",
                value=limits.max_row_chars,
            )
        self.chars_read += chars

    def _too_many_rows(self, number: int, limit: int) -> FileLimitError:
        return FileLimitError(
            f"the file has more than {limit} rows (the row limit)", row=number, limit="rows", value=limit
        )

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        limits = self.limits
        allow_csv_cells_up_to(limits.max_cell_chars)
        with open(self.path, "rb") as fh:
            self._fh = fh
            sample = decode_line(fh.read(SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf"))
            fh.seek(0)
            delimiter = sniff_delimiter(sample)
            blocks = _LineBlocks(fh, limits)
            reader = csv.reader(itertools.chain.from_iterable(blocks), delimiter=delimiter, strict=False)
            while True:
                start = reader.line_num + 1
                blocks.row_started = start
                if start > limits.max_rows:
                    if next(reader, None) is None:
                        return
                    raise self._too_many_rows(start, limits.max_rows)
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if "field larger than field limit" in str(exc):
                        raise FileLimitError(
                            f"a cell is longer than the {limits.max_cell_chars}-character cell limit",
                            row=start,
                            limit="cell_chars",
                            value=limits.max_cell_chars,
                        ) from exc
                    raise ValidationError(
                        f"line {start}: the file cannot be read as CSV ({exc})", row=start
                    ) from exc
                check_cell_lengths(row, start, limits.max_cell_chars)
                if "".join(row).strip():
                    self._check_row(start, row)
                    yield start, row

    def _check_workbook(self) -> None:
        """Refuse a workbook whose parts unpack too big (or too well: zip bombs) before openpyxl opens it."""
        limits = self.limits
        try:
            with zipfile.ZipFile(self.path) as archive:
                parts = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ValidationError(f"the file is not a readable XLSX workbook ({exc})", field="file") from exc
        total = sum(p.file_size for p in parts)
        if total > limits.max_xlsx_uncompressed_bytes:
            raise FileLimitError(
                f"the workbook unpacks to {total} bytes, more than the "
                f"{limits.max_xlsx_uncompressed_bytes}-byte XLSX limit",
                limit="xlsx_uncompressed_bytes",
                value=limits.max_xlsx_uncompressed_bytes,
            )
        for part in parts:
            if part.filename.lower().startswith("xl/worksheets/") and part.filename.lower().endswith(".xml"):
                with zipfile.ZipFile(self.path) as archive, archive.open(part) as sheet_xml:
                    self._scan_sheet(sheet_xml)
            if part.filename.lower() == "xl/sharedstrings.xml" and (
                part.file_size > limits.max_xlsx_shared_strings_bytes
            ):
                raise FileLimitError(
                    f"the shared-strings table unpacks to {part.file_size} bytes, more than the "
                    f"{limits.max_xlsx_shared_strings_bytes}-byte limit",
                    limit="xlsx_shared_strings_bytes",
                    value=limits.max_xlsx_shared_strings_bytes,
                )
            ratio = part.file_size / max(part.compress_size, 1)
            if part.file_size > 1024 * 1024 and ratio > limits.max_xlsx_compression_ratio:
                raise FileLimitError(
                    f"{part.filename} unpacks {ratio:.0f} times its packed size, more than the "
                    f"{limits.max_xlsx_compression_ratio}x limit (a zip bomb, or a sheet of empty rows)",
                    limit="xlsx_compression_ratio",
                    value=limits.max_xlsx_compression_ratio,
                )

    def _scan_sheet(self, sheet_xml: IO[bytes]) -> None:
        """Count a sheet's rows and bound each row's XML at C speed before openpyxl parses it (openpyxl
        holds a whole row, and walks every empty row, in Python)."""
        limits = self.limits
        max_row_xml = 4 * limits.max_row_chars + 64 * limits.max_columns
        rows, since_row, carry = 0, 0, b""
        while chunk := sheet_xml.read(CHUNK_BYTES):
            data = carry + chunk
            found = [m.start() for m in _ROW_TAG.finditer(data)]
            if found:
                gaps = [b - a for a, b in itertools.pairwise(found)]
                widest = max(since_row + found[0], *gaps) if gaps else since_row + found[0]
                since_row = len(data) - found[-1]
            else:
                since_row += len(chunk)
                widest = 0
            rows += len(found)
            if rows > limits.max_xlsx_rows:
                raise self._too_many_rows(limits.max_xlsx_rows + 1, limits.max_xlsx_rows)
            if max(widest, since_row) > max_row_xml:
                raise FileLimitError(
                    f"a row of the sheet takes more than {max_row_xml} bytes of XML "
                    f"({limits.max_columns} columns of at most {limits.max_row_chars} characters in all)",
                    row=rows,
                    limit="row_chars",
                    value=limits.max_row_chars,
                )
            carry = data[-4:]  # a row tag cut by the chunk end is completed (and counted) next time

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        self._check_workbook()
        limits = self.limits
        # An open file, not the path: openpyxl refuses paths whose name does not end in .xlsx, and an
        # upload is stored under a name of our own (the API's uploads end in .upload).
        fh = open(self.path, "rb")  # noqa: SIM115 - closed below, after the workbook
        try:
            workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
            fh.close()
            raise ValidationError(f"the file is not a readable XLSX workbook ({exc})", field="file") from exc
        try:
            sheet = workbook.worksheets[0]
            declared_rows, declared_columns = sheet.max_row or 1, sheet.max_column or 1
            if declared_rows > limits.max_xlsx_rows:  # the sheet's own dimension says so: refuse at once
                raise self._too_many_rows(limits.max_xlsx_rows + 1, limits.max_xlsx_rows)
            if declared_columns > limits.max_columns:
                raise FileLimitError(
                    f"the sheet declares {declared_columns} columns, more than the "
                    f"{limits.max_columns}-column limit",
                    row=1,
                    limit="columns",
                    value=limits.max_columns,
                )
            total = max(declared_rows, 1)
            max_cell = limits.max_cell_chars
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > limits.max_xlsx_rows:
                    raise self._too_many_rows(number, limits.max_xlsx_rows)
                if len(values) > limits.max_columns:
                    self._check_row(number, [""] * len(values))
                if not any(v is not None and v != "" for v in values):
                    continue
                row = [_cell_text(v) for v in values]
                while row and not row[-1]:
                    row.pop()
                if any(cell.strip() for cell in row):
                    longest = max(map(len, row))
                    if longest > max_cell:
                        raise FileLimitError(
                            f"a cell is longer than the {max_cell}-character cell limit",
                            row=number,
                            limit="cell_chars",
                            value=max_cell,
                        )
                    self._check_row(number, row)
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
