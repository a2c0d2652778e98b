"""Benchmark: complete SHAKEN Identity headers signed per second and verified per second (certificate
cached), each against `openssl speed ecdsap256` measured in the same run on the same core.

Targets: signing >= 0.45 of OpenSSL's sign/s, verification >= 0.6 of OpenSSL's verify/s.
Run: `.venv/bin/python bench/attestation.py [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path and this module would shadow the
# `attestation` package: put the repository root first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attestation.certificates import TestCertificateAuthority
from attestation.signer import PassportSigner
from attestation.verify import PinnedCertificate, verify_identity

SIGN_TARGET = 0.45
VERIFY_TARGET = 0.6
X5U = "https://certs.clearline.test/api/certs/3f1c2f7e-1b7a-4a51-9c1e-2d9f3c4b5a60"
OPENSSL_LINE = re.compile(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)")


def openssl_rates(seconds: int) -> tuple[float, float]:
    """OpenSSL's ECDSA P-256 sign/s and verify/s on this core, parsed from `openssl speed`."""
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "ecdsap256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = OPENSSL_LINE.search(out)
    if match is None:
        raise SystemExit(f"cannot parse openssl speed output:\n{out}")
    return float(match.group(1)), float(match.group(2))


def user_cpu_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def rate(seconds: float, step: Callable[[int], object]) -> float:
    """Calls of `step(i)` per second of user CPU time, over about `seconds` of it. User CPU time, like
    `openssl speed` (without -elapsed) divides by, so that other load on the shared machine skews
    neither side."""
    done, start = 0, user_cpu_seconds()
    while True:
        for i in range(done, done + 256):
            step(i)
        done += 256
        elapsed = user_cpu_seconds() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--rounds", type=int, default=3, help="openssl/sign/verify rounds; the median ratio is reported"
    )
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # one core for us and for openssl (inherited)

    now_dt = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now_dt)
    key, cert = ca.issue(
        "7387", not_before=now_dt - timedelta(hours=1), not_after=now_dt + timedelta(days=30)
    )
    signer = PassportSigner(private_key=key, x5u=X5U)
    now = int(now_dt.timestamp())
    dests = [f"1303555{n:04d}" for n in range(1000)]
    origids = [str(uuid.uuid4()) for _ in range(1000)]

    def sign_one(i: int) -> str:
        return signer.identity_header("12025550143", [dests[i % 1000]], "A", origids[i % 1000], now)

    headers = [sign_one(i) for i in range(1000)]
    source = PinnedCertificate([cert, ca.intermediate], [ca.root])

    def verify_one(i: int) -> None:
        result = verify_identity(
            headers[i % 1000], orig="12025550143", dest=dests[i % 1000], now=now, certificates=source
        )
        if not result.ok:
            raise SystemExit(f"benchmark header did not verify: {result}")

    # The machine is shared: each round measures OpenSSL and us back to back so that both see the same
    # load, and the median round is reported.
    rounds = []
    for number in range(1, args.rounds + 1):
        sign_ref, verify_ref = openssl_rates(round(args.seconds))
        sign_rate, verify_rate = rate(args.seconds, sign_one), rate(args.seconds, verify_one)
        rounds.append(
            (sign_rate / sign_ref, verify_rate / verify_ref, sign_rate, sign_ref, verify_rate, verify_ref)
        )
        print(
            f"round {number}: sign {sign_rate:7.0f}/s vs openssl {sign_ref:7.0f}/s ({sign_rate / sign_ref:.2f})   "
            f"verify {verify_rate:7.0f}/s vs openssl {verify_ref:7.0f}/s ({verify_rate / verify_ref:.2f})"
        )
    for label, index, target in (("sign  ", 0, SIGN_TARGET), ("verify", 1, VERIFY_TARGET)):
        ratios = sorted(r[index] for r in rounds)
        median = ratios[len(ratios) // 2]
        verdict = "ok" if median >= target else "BELOW TARGET"
        print(f"{label}: median ratio to openssl {median:.2f} (target >= {target})  {verdict}")


if __name__ == "__main__":
    main()
