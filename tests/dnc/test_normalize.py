"""The normalizer: messy input to E.164 or a reason; the NANP fast path agrees with phonenumbers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnc.nanp import NPA_STATES, derive_npa_states, numbering_plan
from dnc.normalize import e164_to_national, normalize_many, normalize_number


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(202) 555-0143", "+12025550143"),
        ("+1 202.555.0143", "+12025550143"),
        ("1-202-555-0143 ext 9", "+12025550143"),
        ("  tel: 202 555 0143 ;", "+12025550143"),
        ("2025550143", "+12025550143"),
        ("+44 20 7946 0000", "+442079460000"),
        ("+1 416 555 0123", "+14165550123"),
    ],
)
def test_messy_input_normalizes_to_e164(raw: str, e164: str) -> None:
    assert normalize_number(raw).e164 == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("hello", "unparseable"),
        ("202555", "invalid_number"),
        ("+999 1234", "unknown_region"),
    ],
)
def test_rejections_carry_a_reason(raw: str, reason: str) -> None:
    result = normalize_number(raw)
    assert result.e164 is None and result.reason == reason


digits = st.text(alphabet="0123456789", min_size=10, max_size=10)
separators = st.sampled_from(["", " ", "-", "."])


@settings(max_examples=400, deadline=None)
@given(number=digits, sep=separators, prefix=st.sampled_from(["", "1", "+1", "+1 "]), paren=st.booleans())
def test_fast_path_agrees_with_phonenumbers(number: str, sep: str, prefix: str, paren: bool) -> None:
    area = f"({number[:3]})" if paren else number[:3]
    raw = f"{prefix}{area}{sep}{number[3:6]}{sep}{number[6:]}"
    try:
        parsed = phonenumbers.parse(raw, "US")
        expected = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(parsed)
            else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    assert normalize_number(raw).e164 == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=20))
def test_bulk_normalization_equals_one_by_one(raws: list[str]) -> None:
    assert normalize_many(raws) == [normalize_number(r) for r in raws]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=14), digits.map(lambda d: "+1" + d)), max_size=30))
def test_integer_keys_match_the_strings(e164s: list[str]) -> None:
    keys = e164_to_national(e164s)
    for e164, key in zip(e164s, keys.tolist(), strict=True):
        fast = numbering_plan().fast_npa
        plain_us = (
            len(e164) == 12 and e164.startswith("+1") and e164[2:].isdigit() and e164[2:].isascii()
            and fast[int(e164[2:5])] and e164[5] >= "2"
        )  # fmt: skip
        assert key == (int(e164[2:]) if plain_us else -1)


def test_area_code_state_table_matches_phonenumbers_geodata() -> None:
    assert derive_npa_states() == NPA_STATES
