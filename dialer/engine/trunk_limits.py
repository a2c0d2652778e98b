"""Trunk limits across every supervisor and host: calls per second and concurrent calls per trunk, held in
Redis by one Lua script per decision, so that two supervisors never both take the last slot.

Per trunk, two sorted sets: the calls placed recently (score: when, by Redis's clock, so hosts' clocks do
not matter) and the calls in flight (score: when their slot lapses unless renewed, so that the slots of a
supervisor killed with -9 come back by themselves). A placement is granted only if fewer than `max_cps`
were granted in the last `1 s + CPS_MARGIN_MS`: the margin absorbs the time between the grant and the
INVITE reaching the carrier (database write, worker queue, pjsua2), which is not the same for every call,
so that the carrier never counts more than `max_cps` in any 1 s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import redis

PREFIX = "clearline:dialer:trunk:"
CPS_MARGIN_MS = 250
IN_FLIGHT_TTL_MS = 30_000  # a call slot not renewed for this long (its supervisor died) is free again
RENEW_EVERY_S = 5.0

# KEYS: placed, in-flight. ARGV: max_cps, max_concurrent, window ms, slot ttl ms, peek (1: count only),
# then one token per call wanted. Returns how many were granted (the first ones of the tokens).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local by_cps = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local by_concurrent = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2])
local wanted = #ARGV - 5
local n = math.max(0, math.min(wanted, by_cps, by_concurrent))
if ARGV[5] == '1' then return n end
for i = 1, n do
  redis.call('ZADD', KEYS[1], now, ARGV[5 + i])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[5 + i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
return n
"""
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 0
"""


def placed_key(trunk: str) -> str:
    return f"{PREFIX}{trunk}:placed"


def in_flight_key(trunk: str) -> str:
    return f"{PREFIX}{trunk}:in-flight"


class TrunkLimits:
    """The shared limits of every trunk (thread-safe: each call is one script)."""

    def __init__(self, client: redis.Redis, *, margin_ms: int = CPS_MARGIN_MS) -> None:
        self.redis = client
        self.margin_ms = margin_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def _run(self, trunk: str, max_cps: float, max_concurrent: int, tokens: list[str], peek: bool) -> int:
        granted: Any = self._acquire(
            keys=[placed_key(trunk), in_flight_key(trunk)],
            args=[
                int(max_cps),
                max_concurrent,
                1000 + self.margin_ms,
                IN_FLIGHT_TTL_MS,
                1 if peek else 0,
                *tokens,
            ],
        )
        return int(granted)

    def allowance(self, trunk: str, max_cps: float, max_concurrent: int, wanted: int) -> int:
        """How many of `wanted` calls the trunk would take now (nothing is taken)."""
        if wanted <= 0:
            return 0
        return self._run(trunk, max_cps, max_concurrent, ["-"] * wanted, peek=True)

    def acquire(self, trunk: str, max_cps: float, max_concurrent: int) -> str | None:
        """Take one call slot: its token (give it back with `release`), or None when the trunk is full."""
        token = secrets.token_hex(8)
        return token if self._run(trunk, max_cps, max_concurrent, [token], peek=False) else None

    def release(self, trunk: str, token: str) -> None:
        self.redis.zrem(in_flight_key(trunk), token)

    def renew(self, trunk: str, tokens: Iterable[str]) -> None:
        """Keep these calls' slots (calls still in progress)."""
        held = list(tokens)
        if held:
            self._renew(keys=[in_flight_key(trunk)], args=[IN_FLIGHT_TTL_MS, *held])

    def in_flight(self, trunk: str) -> int:
        return int(self.redis.zcount(in_flight_key(trunk), "-inf", "+inf"))
