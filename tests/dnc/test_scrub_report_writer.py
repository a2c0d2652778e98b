"""The scrub report is written in bulk from the columnar verdicts (`dnc.scrub.report_lines`) and the lead
file read column by column (`read_leads_csv`): byte for byte what `csv.writer` with `neutralize` on every
input cell writes, and the same cell rules as before, for awkward cells too."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.safe_csv import neutralize
from dnc.engine import VerdictParts
from dnc.scrub import LeadFile, _tail, read_leads_csv, report_lines

CHECKED = "2026-11-18T15:00:00+00:00"
PARTS = [
    VerdictParts(True, (), (), ("America/New_York",), "08:00-21:00 local (America/New_York)", ""),
    VerdictParts(False, ("national_dnc",), (), ("America/Chicago",), 'a "quoted", window', "TX 09:00-21:00"),
]
AWKWARD = ["=cmd()", "+12025550143", "+", "-", "@sum", "\tx", "a,b", 'say "hi"', "line\nbreak", "", "+1 (202) 555-0143",
           "-1.5", "=1+1", "'already", "\r", " spaced "]  # fmt: skip


def reference(
    leads: LeadFile, e164s: list[str | None], rejections: list[str | None], part_of: list[int]
) -> str:
    """The report rows as the row-by-row writer wrote them."""
    out = io.StringIO()
    writer = csv.writer(out)
    tails = [_tail(p, "1@2026-11-16", CHECKED) for p in PARTS]
    shared = iter(part_of)
    for i, e164 in enumerate(e164s):
        head = [
            str(leads.rows[i]),
            neutralize(leads.raws[i]),
            e164 or "",
            neutralize(leads.lead_ids[i] or ""),
        ]
        if e164 is None:
            tail = ["blocked", f"invalid_number:{rejections[i]}", "", "", "", "", "", "", CHECKED]
        else:
            tail = tails[next(shared)]
        writer.writerow(head + tail)
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(AWKWARD), st.text(max_size=12)),
            st.one_of(st.sampled_from(AWKWARD), st.text(max_size=8)),
            st.booleans(),
            st.integers(0, 1),
        ),
        max_size=30,
    )
)
def test_the_bulk_report_is_byte_for_byte_the_row_by_row_one(rows: list[tuple[str, str, bool, int]]) -> None:
    leads = LeadFile(
        rows=[i + 2 for i in range(len(rows))], raws=[r[0] for r in rows], lead_ids=[r[1] or None for r in rows],
        states=[""] * len(rows), wireless=[-1] * len(rows), written_consent=[False] * len(rows),
        consent_day=[-1] * len(rows),
    )  # fmt: skip
    e164s = [f"+1202555{i:04d}" if r[2] else None for i, r in enumerate(rows)]
    rejections = [None if r[2] else "unparseable" for r in rows]
    valid = [i for i, e in enumerate(e164s) if e is not None]
    part_of = [rows[i][3] for i in valid]
    text = report_lines(
        leads, 0, leads.raws, e164s, rejections, valid, PARTS, np.array(part_of, dtype=np.int64),
        "1@2026-11-16", CHECKED,
    )  # fmt: skip
    assert text == reference(leads, e164s, rejections, part_of)


def test_the_column_by_column_reader_keeps_the_cell_rules_and_names_every_bad_cell(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "phone,lead_id,state,zip,wireless,consent,consent_at\n"
        "2025550143,a,TX,,yes,express written,2026-01-02\n"
        "\n"
        "2025550144,,Texas,75001,maybe,sometimes,\n"
        "2025550145,c,ZZ,,,,\n"
        "2025550146,d,,20001,no,express,not a date\n"
        "2025550147\n"
    )
    leads = read_leads_csv(path)
    assert leads.rows == [2, 4, 5, 6, 7]
    assert leads.lead_ids == ["a", None, "c", "d", None]
    assert leads.states == ["TX", "TX", "", "DC", ""]
    assert leads.wireless == [1, -1, -1, 0, -1]
    assert leads.written_consent == [True, False, False, False, False]
    assert leads.consent_day[0] == 20455 and leads.consent_day[4] == -1
    assert leads.errors == {
        1: "row 4: wireless='maybe': not a yes/no wireless flag; consent='sometimes': not one of none, express, express_written",
        2: "row 5: state='ZZ': not a US state code or name",
        3: "row 6: consent_at='not a date': not a date (YYYY-MM-DD or MM/DD/YYYY)",
    }
