"""Messy phone numbers to E.164, or a rejection reason code.

`normalize_number` handles anything `phonenumbers` can parse (extensions, punctuation, international
numbers). `normalize_many` is the bulk form: plain NANP digits (the overwhelming majority of lead files)
take a regex fast path checked against the numbering plan's assigned area codes; the rest fall back to
`phonenumbers`. `e164_to_national` turns E.164 strings into integer keys for the membership index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import phonenumbers

from dnc.nanp import numbering_plan

# Rejection reason codes of the normalizer.
EMPTY = "empty"
UNPARSEABLE = "unparseable"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
INVALID = "invalid_number"
UNKNOWN_REGION = "unknown_region"

_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: UNKNOWN_REGION,
    phonenumbers.NumberParseException.NOT_A_NUMBER: UNPARSEABLE,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    phonenumbers.NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    phonenumbers.NumberParseException.TOO_LONG: TOO_LONG,
}

# Plain NANP: optional +1/1, then NPA and NXX starting 2-9, with only common punctuation in between.
_NANP = re.compile(r"\s*(?:\+?1[\s.\-]?)?\(?([2-9]\d\d)\)?[\s.\-]?([2-9]\d\d)[\s.\-]?(\d{4})\s*")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass(frozen=True, slots=True)
class NormalizedNumber:
    raw: str
    e164: str | None
    reason: str | None  # rejection reason code when e164 is None

    @property
    def ok(self) -> bool:
        return self.e164 is not None


def _fast_e164(raw: str, default_region: str, fast_codes: frozenset[str]) -> str | None:
    """E.164 of a plain NANP number on a fast-path area code, or None to ask `phonenumbers`."""
    match = _NANP.fullmatch(raw)
    if match is None or match.group(1) not in fast_codes:
        return None
    if default_region != "US" and not raw.lstrip().startswith("+1"):
        return None
    return f"+1{match.group(1)}{match.group(2)}{match.group(3)}"


def normalize_number(raw: str, default_region: str = "US") -> NormalizedNumber:
    """One raw string to E.164 (fast path for plain NANP, `phonenumbers` for the rest)."""
    e164 = _fast_e164(raw, default_region, numbering_plan().fast_npa_codes)
    if e164 is not None:
        return NormalizedNumber(raw, e164, None)
    return _normalize_slow(raw, default_region)


def _normalize_slow(raw: str, default_region: str) -> NormalizedNumber:
    text = raw.strip()
    if not text:
        return NormalizedNumber(raw, None, EMPTY)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        return NormalizedNumber(raw, None, _PARSE_ERRORS.get(exc.error_type, UNPARSEABLE))
    if not phonenumbers.is_valid_number(number):
        return NormalizedNumber(raw, None, INVALID)
    return NormalizedNumber(
        raw, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    )


def normalize_many(raws: Sequence[str], default_region: str = "US") -> list[NormalizedNumber]:
    """The bulk form of `normalize_number`: same results, one call per batch."""
    e164s, rejections = normalize_column(raws, default_region)
    return [NormalizedNumber(r, e, why) for r, e, why in zip(raws, e164s, rejections, strict=True)]


def normalize_column(
    raws: Sequence[str], default_region: str = "US"
) -> tuple[list[str | None], list[str | None]]:
    """`normalize_many` as two columns (E.164 or None, rejection reason or None), without an object per
    number: the bulk path of scrub reports and lead imports."""
    fast = numbering_plan().fast_npa_codes
    e164s: list[str | None] = []
    rejections: list[str | None] = []
    for raw in raws:
        e164 = _fast_e164(raw, default_region, fast)
        if e164 is not None:
            e164s.append(e164)
            rejections.append(None)
            continue
        slow = _normalize_slow(raw, default_region)
        e164s.append(slow.e164)
        rejections.append(slow.reason)
    return e164s, rejections


def is_e164(value: str) -> bool:
    return _E164.fullmatch(value) is not None


def e164_to_national(e164s: Sequence[str]) -> np.ndarray:
    """int64 national number (10 digits) per E.164 string; -1 for anything that is not a plain US number
    (other NANP regions and international numbers go through `phonenumbers` in the engine).

    Vectorised: the strings are viewed as a fixed-width byte matrix and their digits summed in numpy.
    """
    count = len(e164s)
    out = np.full(count, -1, dtype=np.int64)
    if count == 0:
        return out
    raw = np.array(e164s, dtype="U13")  # code points; a 13th character means "too long"
    chars = raw.view(np.uint32).reshape(count, 13)
    shaped = (chars[:, 0] == ord("+")) & (chars[:, 1] == ord("1")) & (chars[:, 12] == 0)
    digits = chars[:, 2:12].astype(np.int64) - ord("0")
    shaped &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    value = np.zeros(count, dtype=np.int64)
    for col in range(10):
        value = value * 10 + digits[:, col]
    npa = np.where(shaped, value // 10_000_000, 0)
    exchange_ok = (value // 1_000_000) % 10 >= 2
    ok = shaped & numbering_plan().fast_npa[npa] & exchange_ok
    out[ok] = value[ok]
    return out
