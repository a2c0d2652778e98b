"""How failed logins are slowed down, so that guessing is slow and nobody can lock anyone else out.

Three counters, all keyed by the *normalized* email (core.accounts.normalize_email):
- per (account, client IP): the first FREE_FAILURES failures are free, then each attempt must wait
  2, 4, 8 ... seconds (capped at MAX_DELAY_S) after the last failure, else 429 with Retry-After. The real
  user on another address is not affected.
- per client IP, any account: MAX_FAILURES_PER_IP in WINDOW_S, then 429 (password spraying).
- per account, every IP together: never a lock. From BURST_FAILURES on, every attempt on the account
  (right or wrong, from anywhere) is answered SLOWDOWN_STEP_S later per failure, up to MAX_SLOWDOWN_S,
  and the burst is logged and raised as an alarm (audit action `security.login_burst`).
A successful login clears only its (account, IP) counter.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import redis

FREE_FAILURES = 3
MAX_DELAY_S = 900
MAX_FAILURES_PER_IP = 30
WINDOW_S = 900
BURST_FAILURES = 10
SLOWDOWN_STEP_S = 0.2
MAX_SLOWDOWN_S = 3.0


def pair_delay_s(failures: int) -> int:
    """Seconds an (account, IP) pair must wait after its last failure. Pure."""
    if failures <= FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S))


def account_slowdown_s(failures: int) -> float:
    """Seconds every attempt on an account under attack is held back. Pure; never a refusal."""
    if failures < BURST_FAILURES:
        return 0.0
    return min(SLOWDOWN_STEP_S * (failures - BURST_FAILURES + 1), MAX_SLOWDOWN_S)


def is_alarm_point(failures: int) -> bool:
    """Raise the burst alarm when it starts, then at each power of ten: loud, not a flood."""
    if failures == BURST_FAILURES:
        return True
    return failures > BURST_FAILURES and math.log10(failures).is_integer()


@dataclass(frozen=True)
class Verdict:
    retry_after_s: int  # > 0: refuse with 429 now
    slowdown_s: float  # hold the answer back this long (account under attack)


def _h(email: str) -> str:
    # Redis keys carry a digest, not the address: key dumps and monitors do not list users' emails.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _keys(email: str, ip: str | None) -> tuple[str, str, str]:
    e = _h(email)
    return (
        f"clearline:login:pair:{e}:{ip or '-'}",
        f"clearline:login:ip:{ip or '-'}",
        f"clearline:login:account:{e}",
    )


def check(r: redis.Redis, email: str, ip: str | None, *, now: float | None = None) -> Verdict:
    now = time.time() if now is None else now
    pair_key, ip_key, account_key = _keys(email, ip)
    pipe = r.pipeline()
    pipe.hmget(pair_key, "n", "last")
    pipe.get(ip_key)
    pipe.ttl(ip_key)
    pipe.get(account_key)
    (n, last), ip_failures, ip_ttl, account_failures = pipe.execute()
    retry = 0
    if n is not None and last is not None:
        wait_until = float(last) + pair_delay_s(int(n))
        if wait_until > now:
            retry = math.ceil(wait_until - now)
    if int(ip_failures or 0) >= MAX_FAILURES_PER_IP:
        retry = max(retry, int(ip_ttl) if int(ip_ttl) > 0 else 1)
    return Verdict(retry_after_s=retry, slowdown_s=account_slowdown_s(int(account_failures or 0)))


def record_failure(r: redis.Redis, email: str, ip: str | None, *, now: float | None = None) -> int:
    """Count one failure; returns the account's failures from every IP in the window."""
    now = time.time() if now is None else now
    pair_key, ip_key, account_key = _keys(email, ip)
    pipe = r.pipeline()
    pipe.hincrby(pair_key, "n", 1)
    pipe.hset(pair_key, "last", repr(now))
    pipe.expire(pair_key, WINDOW_S + MAX_DELAY_S)
    pipe.incr(ip_key)
    pipe.incr(account_key)
    results = pipe.execute()
    ip_count, account_count = int(results[3]), int(results[4])
    # Windows start at the first failure (no EXPIRE NX on Redis 6).
    if ip_count == 1:
        r.expire(ip_key, WINDOW_S)
    if account_count == 1:
        r.expire(account_key, WINDOW_S)
    return account_count


def record_success(r: redis.Redis, email: str, ip: str | None) -> None:
    r.delete(_keys(email, ip)[0])
