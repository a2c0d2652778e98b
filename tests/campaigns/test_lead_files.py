"""Reading lead files: delimiter sniffing, line numbers, and lines that straddle the reader's chunks."""

from __future__ import annotations

from pathlib import Path

from campaigns.lead_files import CHUNK_BYTES, LeadFile, sniff_delimiter


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


def test_an_xlsx_upload_is_read_whatever_its_stored_file_name(tmp_path: Path) -> None:
    """Uploads are stored as <random>.upload; openpyxl, given a path, refuses names not ending in .xlsx."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["phone", "first_name"])
    book.active.append([2025550143, "Ada"])
    path = tmp_path / "0123abcd.upload"
    book.save(path)
    assert list(LeadFile(path).rows()) == [(1, ["phone", "first_name"]), (2, ["2025550143", "Ada"])]
