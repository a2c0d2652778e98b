"""The one classifier of a consumer's message: does it revoke consent? 47 CFR 64.1200(a)(10) (FCC 24-24, in
force 2025-04-11): "stop", "quit", "end", "revoke", "opt out", "cancel" or "unsubscribe" in a reply to a
text message is a valid revocation; any other reasonable means counts too."""

from __future__ import annotations

import pytest

from dnc.consent import REVOCATION_KEYWORDS, classify_revocation_text


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("STOP", "STOP"), ("stop", "STOP"), ("Stop!", "STOP"), ("  STOP\n", "STOP"), ("please stop", "STOP"),
        ("STOP ALL", "STOP"), ("QUIT.", "QUIT"), ("End", "END"), ("REVOKE", "REVOKE"), ("opt out", "OPT OUT"),
        ("Opt-Out", "OPT OUT"), ("OPT  OUT", "OPT OUT"), ("cancel", "CANCEL"), ("Unsubscribe me", "UNSUBSCRIBE"),
        ("stopall", "stopall"), ("optout", "optout"),
        ("Don\N{RIGHT SINGLE QUOTATION MARK}t call me again", "don't call"), ("do not call this number", "do not call"),
        ("Please remove me from your list", "remove me"), ("take me off your list", "take me off"),
        ("no more calls please", "no more calls"),
    ],
)  # fmt: skip
def test_the_fcc_keywords_and_plain_requests_to_stop_revoke(text: str, matched: str) -> None:
    verdict = classify_revocation_text(text)
    assert verdict.revokes and verdict.matched == matched, verdict
    assert "47 CFR 64.1200(a)(10)" in verdict.rule


def test_every_keyword_the_rule_names_is_recognised_alone() -> None:
    assert set(REVOCATION_KEYWORDS) == {"stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"}
    for keyword in REVOCATION_KEYWORDS:
        assert classify_revocation_text(keyword.upper()).revokes, keyword


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "ok thanks",
        "Call me tomorrow at 5",
        "stopping by later",
        "Stopp",
        "endless",
        "cancellation",
        "",
    ],
)
def test_a_message_without_a_keyword_or_request_revokes_nothing_and_says_why(text: str) -> None:
    verdict = classify_revocation_text(text)
    assert not verdict.revokes and verdict.matched is None
    assert "STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE" in verdict.rule


def test_the_reading_is_restrictive_a_keyword_inside_a_sentence_still_revokes() -> None:
    """A missed revocation is the violation; an honored one only costs a lead."""
    assert classify_revocation_text("see you at the end of the week").matched == "END"
