"""Reading lead files: delimiter sniffing, line numbers, and lines that straddle the reader's chunks."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from campaigns.lead_files import CHUNK_BYTES, LeadFile, sniff_delimiter
from core.file_limits import FileLimitError, FileLimits


def test_the_delimiter_that_splits_every_line_the_same_way_wins() -> None:
    assert sniff_delimiter("phone;name;note\n1;Ann;a,b\n2;Bob;c,d\n") == ";"
    assert sniff_delimiter("phone|name\n1|Ann, Jr\n") == "|"
    assert sniff_delimiter("phone\tname\n1\tAnn\n") == "\t"
    assert sniff_delimiter("phone\n2025550143\n") == ","


def test_line_numbers_and_encodings_hold_across_chunk_boundaries(tmp_path: Path) -> None:
    header, filler = b"phone,note\n", b"2025550100,filler\n"
    count = (CHUNK_BYTES - len(header) - 10) // len(
        filler
    )  # the quoted record straddles the first chunk's end
    content = (
        header
        + filler * count
        + b'2025550101,"starts in one chunk\nends in the next"\n'
        + "2025550102,Müller\n".encode("latin-1")
        + "2025550103,Zoë\n".encode()
    )
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    quoted_at = content.index(b'2025550101,"')
    assert quoted_at < CHUNK_BYTES < content.index(b"ends in the next")
    lead_file = LeadFile(path)
    rows = list(lead_file.rows())
    assert rows[0] == (1, ["phone", "note"])
    assert len(rows) == count + 4
    assert rows[-3] == (count + 2, ["2025550101", "starts in one chunk\nends in the next"])
    assert rows[-2] == (count + 4, ["2025550102", "Müller"])
    assert rows[-1] == (count + 5, ["2025550103", "Zoë"])
    assert lead_file.fraction_read == 1.0


def test_a_last_line_without_a_line_end_is_read(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes(b"\xef\xbb\xbfphone\r\n2025550143\r\n2025550144")
    assert list(LeadFile(path).rows()) == [(1, ["phone"]), (2, ["2025550143"]), (3, ["2025550144"])]


SMALL = FileLimits(max_columns=5, max_cell_chars=50, max_row_chars=100, max_rows=10, max_xlsx_rows=10)


def read_all(path: Path, limits: FileLimits = SMALL) -> list[tuple[int, list[str]]]:
    return list(LeadFile(path, limits).rows())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"phone\n1,2,3,4,5,6\n", "row 2: 6 columns, more than the 5-column limit"),
        (b'phone,note\n1,"' + b"x" * 60 + b'"\n', "row 2: a cell is longer than the 50-character cell limit"),
        (
            b"phone\n" + b"x," * 4 + b"x" * 200 + b"\n",
            "row 2: the row is longer than the 100-character row limit",
        ),
        (b"phone\n" + b"2025550143\n" * 20, "row 11: the file has more than 10 rows (the row limit)"),
        # one row chained over many lines by quoted line breaks: refused by its size, not read whole
        (b"phone,a,b\n" + b'1,"x\n' + b"x\n" * 100 + b'"\n', "row 2: "),
    ],
)
def test_a_csv_over_a_limit_is_refused_at_its_row_naming_the_limit(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(FileLimitError, match=re.escape(message)) as caught:
        read_all(path)
    assert caught.value.field == "file" and "nothing was imported" in str(caught.value)


def test_a_line_without_end_longer_than_a_row_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "endless.csv"
    path.write_bytes(b"phone\n" + b"9" * (3 * CHUNK_BYTES))
    with pytest.raises(FileLimitError, match="row 2: the row is longer than the 65536-character row limit"):
        read_all(path, FileLimits())


def test_rows_within_every_limit_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_bytes(b"phone,a,b,c,d\n" + b"2025550143,1,2,3," + b"x" * 40 + b"\n" * 3)
    assert read_all(path) == [
        (1, ["phone", "a", "b", "c", "d"]),
        (2, ["2025550143", "1", "2", "3", "x" * 40]),
    ]


def _workbook(tmp_path: Path, rows: list[list[object]]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "leads.xlsx"
    workbook.save(path)
    return path


def test_an_xlsx_over_a_limit_is_refused_at_its_row(tmp_path: Path) -> None:
    with pytest.raises(FileLimitError, match="the sheet declares 6 columns, more than the 5-column limit"):
        read_all(_workbook(tmp_path, [["phone"], [1, 2, 3, 4, 5, 6]]))
    with pytest.raises(FileLimitError, match="row 2: a cell is longer than the 50-character cell limit"):
        read_all(_workbook(tmp_path, [["phone"], ["y" * 51]]))
    with pytest.raises(FileLimitError, match="more than 10 rows"):
        read_all(_workbook(tmp_path, [["phone"]] + [[2025550143]] * 12))


def _bomb(path: Path, sheet_rows: str, strings: list[str]) -> Path:
    """A minimal workbook written by hand, so its parts can be as hostile as an attacker makes them."""
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{pkg}/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
            'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook {main} xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" Type="{rel}/worksheet"'
            f' Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        z.writestr(
            "xl/sharedStrings.xml",
            f"<sst {main}>" + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>",
        )
        z.writestr(
            "xl/worksheets/sheet1.xml", f"<worksheet {main}><sheetData>{sheet_rows}</sheetData></worksheet>"
        )
    return path


PHONE_ROW = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'


def test_a_small_xlsx_with_a_huge_shared_strings_table_is_refused_before_it_is_unpacked(
    tmp_path: Path,
) -> None:
    path = _bomb(tmp_path / "strings.xlsx", PHONE_ROW, ["phone"] + ["x" * 20] * 4_000_000)
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(
        FileLimitError, match=r"the shared-strings table unpacks to .* bytes, more than the 67108864"
    ):
        read_all(path, FileLimits())


def test_an_xlsx_of_millions_of_empty_rows_is_refused_by_counting_them_not_walking_them(
    tmp_path: Path,
) -> None:
    rows = "".join(f'<row r="{i}"/>' for i in range(2, 1_200_000))
    path = _bomb(tmp_path / "empty.xlsx", PHONE_ROW + rows, ["phone"])
    started = time.process_time()
    with pytest.raises(FileLimitError, match="row 1048577: the file has more than 1048576 rows"):
        read_all(path, FileLimits())
    assert time.process_time() - started < 10  # openpyxl walked them in ~7 s per million before


def test_an_xlsx_part_that_unpacks_a_hundred_times_its_size_is_refused(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "ratio.xlsx", PHONE_ROW, ["phone", "y" * (8 * 1024 * 1024)])
    with pytest.raises(FileLimitError, match=r"xl/sharedStrings.xml unpacks \d+ times its packed size"):
        read_all(path, FileLimits(max_xlsx_shared_strings_bytes=64 * 1024 * 1024))


HOSTILE_FILES: dict[str, Callable[[], bytes]] = {
    "one row of a million cells": lambda: b"phone\n" + b",".join([b"x"] * 1_000_000) + b"\n",
    "ten such rows": lambda: b"phone\n" + (b",".join([b"x"] * 1_000_000) + b"\n") * 10,
    "one 60 MB field": lambda: b"phone,note\n2025550143," + b"y" * (60 * 1024 * 1024) + b"\n",
    "one 60 MB quoted field": lambda: b'phone,note\n2025550143,"' + b"y\n" * (30 * 1024 * 1024) + b'"\n',
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_reading_a_hostile_file_keeps_the_reader_under_100_mb(tmp_path: Path, name: str) -> None:
    """Peak RSS of a fresh process reading the file (before the limits: up to 508 MB for the 60 MB field)."""
    path = tmp_path / "hostile.csv"
    path.write_bytes(HOSTILE_FILES[name]())
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from campaigns.lead_files import LeadFile\n"
        "from core.file_limits import FileLimitError\n"
        "try:\n"
        "    for _ in LeadFile(Path(sys.argv[1])).rows(): pass\n"
        "    print('read')\n"
        "except FileLimitError as exc:\n"
        "    print('refused', exc)\n"
        "status = Path('/proc/self/status').read_text()\n"  # VmHWM: this process's peak RSS
        "print(int(status.split('VmHWM:')[1].split()[0]) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    verdict, peak_mb = out.stdout.splitlines()
    assert verdict.startswith("refused row 2:"), out.stdout
    assert int(peak_mb) < 100, f"{name}: peak RSS {peak_mb} MB"


def test_an_xlsx_upload_is_read_whatever_its_stored_file_name(tmp_path: Path) -> None:
    """Uploads are stored as <random>.upload; openpyxl, given a path, refuses names not ending in .xlsx."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["phone", "first_name"])
    book.active.append([2025550143, "Ada"])
    path = tmp_path / "0123abcd.upload"
    book.save(path)
    assert list(LeadFile(path).rows()) == [(1, ["phone", "first_name"]), (2, ["2025550143", "Ada"])]


def test_a_reader_with_a_small_cell_limit_does_not_cut_the_next_readers_cells_short(tmp_path: Path) -> None:
    # The csv module's cell limit is one value per process (every thread): a scrub or import read under
    # small limits once left it at 50 characters for every later CSV reader of the process (the privacy
    # export's, a thread's import under other limits).
    small = tmp_path / "small.csv"
    small.write_bytes(b"phone,note\n2025550143," + b"x" * 60 + b"\n")
    with pytest.raises(FileLimitError, match="50-character cell limit"):
        read_all(small)
    assert list(csv.reader(io.StringIO("a," + "x" * 60))) == [["a", "x" * 60]]
    assert read_all(small, FileLimits())[1] == (2, ["2025550143", "x" * 60])
