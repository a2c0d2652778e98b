"""`clearline demo`'s printed summary adds up: every outcome of a placed call is listed."""

from __future__ import annotations

import io
from typing import Any

from clearline.demo import PLACED_OUTCOMES, print_summary, summary_rows


def sample_summary() -> dict[str, Any]:
    outcomes = {"connected_to_agent": 40, "abandoned": 1, "machine": 7, "no_answer": 9, "busy": 3,
                "invalid": 2, "failed": 5, "in_progress": 0}  # fmt: skip
    return {
        "calls_placed": sum(outcomes.values()),
        **outcomes,
        "human_answered": 41,
        "abandon_rate": 1 / 41,
        "identity_verified": 67,
        "identity_failed": 0,
        "dnc_blocked": 4,
        "other_blocked": 1,
        "dnc_dialed": 0,
        "opt_outs": 1,
        "answer_to_agent_ms_p50": 120.0,
        "answer_to_agent_ms_p99": 900.0,
        "max_concurrent_calls": 12,
        "compliance_clock": "real time",
        "dispositions": {"SALE": 10, "NI": 25, "TIMEOUT": 5},
    }


def test_the_outcomes_listed_under_calls_placed_add_up_to_it_failed_included() -> None:
    summary = sample_summary()
    rows = dict(summary_rows(summary))
    listed = [rows[f"  {label}"] for label, _ in PLACED_OUTCOMES]
    assert sum(listed) == rows["calls placed"] == 67
    assert rows["  failed (trunk or network; the lead is retried)"] == 5


def test_the_printed_summary_shows_the_dispositions_and_explains_the_dial_level() -> None:
    out = io.StringIO()
    print_summary(sample_summary(), out)
    text = out.getvalue()
    assert "NI 25, SALE 10, TIMEOUT 5" in text
    assert "dial level = calls in progress per working agent" in text
