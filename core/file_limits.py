"""The limits every uploaded file is read under (lead lists, DNC lists, scrub inputs): one home for them.

A file that breaks one is refused as soon as the reader reaches the offending row, with the row and the
limit in the message, so a hostile or broken file costs bounded memory and time whatever its content.
The upload size itself is `Settings.max_upload_bytes` (checked while the upload streams in).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from core.errors import ValidationError


def allow_csv_cells_up_to(chars: int) -> None:
    """The csv module's cell limit is one value for the whole process, every thread included: it is only
    ever raised here, so that a reader with a small limit never cuts another reader's cells short. Each
    reader checks its own `max_cell_chars` on the rows it reads (`longest_cell`)."""
    if csv.field_size_limit() < chars:
        csv.field_size_limit(chars)


def check_cell_lengths(cells: list[str], row: int, max_cell_chars: int) -> None:
    """Refuse a row with a cell longer than `max_cell_chars` (the csv module's own limit is process-wide)."""
    if max(map(len, cells), default=0) > max_cell_chars:
        raise FileLimitError(
            f"a cell is longer than the {max_cell_chars}-character cell limit",
            row=row,
            limit="cell_chars",
            value=max_cell_chars,
        )


@dataclass(frozen=True)
class FileLimits:
    max_columns: int = 500  # cells per row
    max_cell_chars: int = 32_767  # characters per cell (what Excel itself allows)
    max_row_chars: int = 64 * 1024  # characters per row, all cells together
    max_rows: int = 10_000_000  # rows (lines) per lead or scrub file, empty ones included
    max_xlsx_rows: int = 1_048_576  # rows per XLSX sheet (Excel's own limit), empty ones included
    max_xlsx_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024  # all parts of the workbook, unpacked
    max_xlsx_shared_strings_bytes: int = 64 * 1024 * 1024  # xl/sharedStrings.xml unpacked (read whole)
    max_xlsx_compression_ratio: int = 100  # unpacked/packed for any part over 1 MiB: zip bombs
    max_list_line_bytes: int = 1024  # one line of a DNC list file (a number and a flag or date)
    max_list_rows: int = 500_000_000  # lines per DNC list file (the national registry has ~250 M)
    max_dated_rows: int = 50_000_000  # lines per reassigned-numbers file (kept in memory while sorted)
    max_internal_rows: int = 5_000_000  # lines per internal DNC file
    max_scrub_rows: int = 2_000_000  # rows per scrub-report input (its columns are held while checked)


LIMITS = FileLimits()


class FileLimitError(ValidationError):
    """A file broke one of the `FileLimits`; nothing from it was imported."""

    def __init__(self, message: str, *, row: int | None = None, limit: str, value: int) -> None:
        self.limit = limit
        self.value = value
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{message}; nothing was imported", field="file", row=row)


def bounded_lines(fh: IO[bytes], *, max_bytes: int, max_rows: int, what: str) -> Iterator[str]:
    """A binary file's lines, decoded, refusing a line longer than `max_bytes` or more than `max_rows`
    lines before holding them (`for line in file` would read a 2 GiB line whole)."""
    number = 0
    while raw := fh.readline(max_bytes + 2):
        number += 1
        if len(raw) > max_bytes + 1 or (len(raw) == max_bytes + 1 and not raw.endswith(b"\n")):
            raise FileLimitError(
                f"the line is longer than the {max_bytes}-byte line limit of {what}",
                row=number,
                limit="line_bytes",
                value=max_bytes,
            )
        if number > max_rows:
            raise FileLimitError(
                f"the file has more than {max_rows} lines (the limit for {what})",
                row=number,
                limit="rows",
                value=max_rows,
            )
        yield raw.decode("utf-8", errors="replace")
