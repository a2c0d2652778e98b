"""The password policy: long enough, not too long, not common, not trivially repetitive or sequential,
not the user's email. Hashing stays argon2 (core/security.py)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from core.errors import ValidationError

MIN_PASSWORD = 12
# argon2 would hash a 1 MB password, slowly; no passphrase needs more than this.
MAX_PASSWORD = 256
MIN_DISTINCT_CHARACTERS = 5

# Runs of characters people type as "a password": alphabet, digits, keyboard rows and columns.
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "1234567890qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7",
)
_LEET = str.maketrans(
    {"@": "a", "4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s", "7": "t"}
)
_AROUND = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def _is_repetition(text: str) -> bool:
    """'abcabcabcabc', 'passwordpassword': the text is one shorter unit repeated."""
    return any(
        len(text) % n == 0 and text[:n] * (len(text) // n) == text for n in range(1, len(text) // 2 + 1)
    )


def _is_sequence(text: str) -> bool:
    t = text.lower()
    for seq in _SEQUENCES:
        for s in (seq, seq[::-1]):
            cycled = s * (len(t) // len(s) + 2)
            if t in cycled:
                return True
    return False


def _core_word(text: str) -> str:
    """'Password1234!' -> 'password': the word without the digits and symbols added around it."""
    lowered = text.lower()
    stripped = _AROUND.sub("", lowered)
    return stripped or lowered


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why `password` is refused, or None. Pure: the CLI, the API and the console all ask this."""
    if len(password) < MIN_PASSWORD:
        return f"password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must be at most {MAX_PASSWORD} characters"
    if len(set(password)) < MIN_DISTINCT_CHARACTERS or _is_repetition(password):
        return f"password is too repetitive: use at least {MIN_DISTINCT_CHARACTERS} different characters"
    if _is_sequence(password):
        return "password is a keyboard, digit or alphabet sequence"
    common = common_passwords()
    lowered = password.lower()
    core = _core_word(password)
    if {lowered, core, core.translate(_LEET), lowered.translate(_LEET)} & common or (
        _is_repetition(core) and _core_word(core[: len(core) // 2]) in common
    ):
        return "password is one of the most commonly used passwords"
    if email:
        address = email.strip().lower()
        local = address.split("@", 1)[0]
        if address in lowered or (len(local) >= 4 and local in lowered):
            return "password must not contain your email address"
    return None


def validate_password(password: str, *, email: str | None = None) -> None:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValidationError(problem, field="password")
