"""Interop with secsipidx, an independent STIR/SHAKEN implementation: it accepts our headers, we accept
its headers, and both refuse the same forgeries. All with a private test CA chain."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from attestation.signer import PassportSigner
from attestation.verify import verify_identity
from tests.attestation.conftest import DEST, ORIG, ORIGID, SPC, X5U, Signing

SECSIPIDX = "secsipidx"
CERT_VERIFY = "13"  # validity dates + custom root (-ca-file) + intermediates (-ca-inter)


def _secsipidx_check(
    signing: Signing, value: str, tmp_path: Path, *, expire: int = 60
) -> subprocess.CompletedProcess[str]:
    identity = tmp_path / "identity.txt"
    identity.write_text(value)
    return subprocess.run(
        [
            SECSIPIDX,
            "-check",
            "-fidentity",
            str(identity),
            "-fpubkey",
            str(signing.files["cert"]),
            "-expire",
            str(expire),
            "-cert-verify",
            CERT_VERIFY,
            "-ca-file",
            str(signing.files["root"]),
            "-ca-inter",
            str(signing.files["intermediate"]),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _secsipidx_sign(key: Path, attest: str) -> str:
    return subprocess.run(
        [
            SECSIPIDX,
            "-sign-full",
            "-orig-tn",
            ORIG,
            "-dest-tn",
            DEST,
            "-attest",
            attest,
            "-x5u",
            X5U,
            "-k",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()


def test_secsipidx_accepts_our_header(signing: Signing, tmp_path: Path) -> None:
    value = signing.header(iat=int(time.time()))
    checked = _secsipidx_check(signing, value, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok" in checked.stdout


def test_secsipidx_refuses_our_header_when_tampered_or_stale(signing: Signing, tmp_path: Path) -> None:
    value = signing.header(iat=int(time.time()))
    jws, params = value.split(";", 1)
    header_b64, payload_b64, signature = jws.split(".")
    forged = f"{header_b64}.{payload_b64[:-2]}{'A' if payload_b64[-2] != 'A' else 'B'}{payload_b64[-1]}.{signature};{params}"
    assert _secsipidx_check(signing, forged, tmp_path).returncode != 0
    stale = signing.header(iat=int(time.time()) - 600)
    assert _secsipidx_check(signing, stale, tmp_path).returncode != 0


def test_we_accept_a_header_signed_by_secsipidx(signing: Signing) -> None:
    signed = _secsipidx_sign(signing.files["key"], "B")
    result = verify_identity(
        signed, orig=ORIG, dest=DEST, now=int(time.time()), certificates=signing.source()
    )
    assert result.ok, result
    assert result.claims is not None and result.claims["attest"] == "B"


def test_we_refuse_a_secsipidx_header_for_another_call_or_with_another_key(
    signing: Signing, tmp_path: Path
) -> None:
    signed = _secsipidx_sign(signing.files["intermediate_key"], "A")
    now = int(time.time())
    assert (
        verify_identity(signed, orig=ORIG, dest=DEST, now=now, certificates=signing.source()).reason
        == "bad_signature"
    )
    genuine = _secsipidx_sign(signing.files["key"], "A")
    assert (
        verify_identity(genuine, orig="12025550100", dest=DEST, now=now, certificates=signing.source()).reason
        == "orig_mismatch"
    )


def test_both_refuse_a_header_signed_with_an_expired_certificate(signing: Signing, tmp_path: Path) -> None:
    past = datetime.now(UTC) - timedelta(days=400)
    key, cert = signing.ca.issue(SPC, not_before=past, not_after=past + timedelta(days=30))
    (tmp_path / "expired.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    now = int(time.time())
    value = PassportSigner(private_key=key, x5u=X5U).identity_header(ORIG, [DEST], "A", ORIGID, now)
    expired = Signing(
        ca=signing.ca, key=key, cert=cert, files={**signing.files, "cert": tmp_path / "expired.pem"}, now=now
    )
    checked = _secsipidx_check(expired, value, tmp_path)
    assert checked.returncode != 0 and "expired" in checked.stdout, checked.stdout
    result = verify_identity(value, orig=ORIG, dest=DEST, now=now, certificates=expired.source())
    assert (result.reason, result.response) == ("cert_expired", 437)
