"""Public ids: what the API and the console show in place of a table's global bigint sequence.

Leads (and the other rows numbered by one sequence for every organization) keep their bigint primary
key for joins and ordering, but that number must never leave the server: consecutive ids tell an
organization how many rows every other organization created between two of its own imports, and an id
plus one names the next row. Each kind of id is shown through its own keyed permutation instead: a
Feistel network over 52 bits (ids stay integers a JavaScript client reads exactly), keyed from the
server secret. It is a bijection, so nothing is stored and nothing changes at import time; without the
key, neither the order nor the distance of two public ids says anything about their rows.

Public ids are never 0 (0 stays "from the start" in `after_id` cursors): the permutation is walked on
until it leaves 0, which keeps it a bijection of 1 .. 2**52-1.

The key comes from `configure(secret_key)`, called by every `Runtime`; a process that never made one
(a library user, an engine unit test) derives it from the settings on first use.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import threading

BITS = 52
HALF = BITS // 2
HALF_MASK = (1 << HALF) - 1
LIMIT = 1 << BITS  # public and internal ids are 1 .. LIMIT-1
ROUNDS = 6


class IdKind(enum.StrEnum):
    """Each kind has its own key: the public id of lead 7 and of DNC entry 7 are unrelated."""

    LEAD = "lead"
    DNC_ENTRY = "dnc_entry"
    AREA_CODE_BLOCK = "area_code_block"
    DNC_REMOVAL = "dnc_removal"


class IdPermutation:
    """A keyed permutation of 1 .. 2**52-1 (a balanced Feistel network, round function keyed BLAKE2b)."""

    def __init__(self, key: bytes) -> None:
        self._round_keys = [hmac.digest(key, b"round" + bytes([r]), "sha256") for r in range(ROUNDS)]

    def _f(self, r: int, half: int) -> int:
        digest = hashlib.blake2b(half.to_bytes(4, "big"), key=self._round_keys[r], digest_size=4).digest()
        return int.from_bytes(digest, "big") & HALF_MASK

    def _encrypt(self, x: int) -> int:
        left, right = x >> HALF, x & HALF_MASK
        for r in range(ROUNDS):
            left, right = right, left ^ self._f(r, right)
        return (left << HALF) | right

    def _decrypt(self, y: int) -> int:
        left, right = y >> HALF, y & HALF_MASK
        for r in reversed(range(ROUNDS)):
            left, right = right ^ self._f(r, left), left
        return (left << HALF) | right

    def encode(self, internal: int) -> int:
        if not 0 < internal < LIMIT:
            raise ValueError(f"internal id {internal} is outside 1 .. 2**{BITS}-1")
        y = self._encrypt(internal)
        while y == 0:  # cycle-walk: 0 is not a public id
            y = self._encrypt(y)
        return y

    def decode(self, public: int) -> int | None:
        """The internal id behind a public one, or None for a number no public id can be."""
        if not 0 < public < LIMIT:
            return None
        x = self._decrypt(public)
        while x == 0:
            x = self._decrypt(x)
        return x


def derive_key(secret_key: str, kind: IdKind) -> bytes:
    return hmac.digest(secret_key.encode(), b"clearline-public-id\x00" + kind.value.encode(), "sha256")


_lock = threading.Lock()
_secret: str | None = None
_permutations: dict[IdKind, IdPermutation] = {}


def configure(secret_key: str) -> None:
    global _secret
    with _lock:
        if secret_key != _secret:
            _secret = secret_key
            _permutations.clear()


def _permutation(kind: IdKind) -> IdPermutation:
    found = _permutations.get(kind)
    if found is not None:
        return found
    with _lock:
        global _secret
        if _secret is None:
            from core.settings import get_settings

            _secret = get_settings().secret_key
        found = _permutations[kind] = IdPermutation(derive_key(_secret, kind))
        return found


def to_public(kind: IdKind, internal: int) -> int:
    return _permutation(kind).encode(internal)


def to_internal(kind: IdKind, public: int) -> int | None:
    return _permutation(kind).decode(public)


def public_lead_id(internal: int) -> int:
    return to_public(IdKind.LEAD, internal)


def internal_lead_id(public: int) -> int | None:
    """None when the number cannot be a lead id this server gave out (the caller answers 404)."""
    return to_internal(IdKind.LEAD, public)
