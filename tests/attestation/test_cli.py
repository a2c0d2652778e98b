"""`clearline certs test-ca` and `clearline passport sign|verify`, run as the user would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from attestation.certificate_store import load_trust_anchors
from clearline.cli import main
from tests.attestation.conftest import DEST, ORIG, ORIGID

X5U = "https://certs.example.test/shaken.pem"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_test_ca_then_sign_then_verify_round_trip(tmp_path: Path) -> None:
    code, out, _ = _run("certs", "test-ca", "--spc", "1234", "--out", str(tmp_path / "ca"))
    assert code == 0, out
    ca = tmp_path / "ca"
    assert {p.name for p in ca.iterdir()} >= {
        "root.pem",
        "intermediate.pem",
        "shaken.pem",
        "shaken.key",
        "chain.pem",
    }
    now = int(time.time())
    code, header, err = _run(
        "passport", "sign", "--key", str(ca / "shaken.key"), "--x5u", X5U, "--orig", "+" + ORIG,
        "--dest", DEST, "--dest", "13035550101", "--attest", "A", "--origid", ORIGID, "--iat", str(now),
        "--cert", str(ca / "chain.pem"),
    )  # fmt: skip
    assert code == 0, err
    assert header.strip().endswith(f";info=<{X5U}>;alg=ES256;ppt=shaken")
    code, out, err = _run(
        "passport", "verify", "--identity", header.strip(), "--cert", str(ca / "chain.pem"),
        "--ca", str(ca / "root.pem"), "--orig", ORIG, "--dest", "13035550101", "--now", str(now + 10),
    )  # fmt: skip
    assert code == 0, err
    claims = json.loads(out)
    assert claims["dest"] == {"tn": [DEST, "13035550101"]} and claims["origid"] == ORIGID
    code, _, err = _run(
        "passport", "verify", "--identity", header.strip(), "--cert", str(ca / "chain.pem"),
        "--max-age", "5", "--now", str(now + 10),
    )  # fmt: skip
    assert code == 1 and "stale_iat (403)" in err


def test_sign_refuses_bad_input_with_a_clear_message(tmp_path: Path) -> None:
    _run("certs", "test-ca", "--spc", "1234", "--out", str(tmp_path))
    code, _, err = _run(
        "passport", "sign", "--key", str(tmp_path / "shaken.key"), "--x5u", X5U, "--orig", "not-a-number",
        "--dest", DEST, "--attest", "A",
    )  # fmt: skip
    assert code == 2 and "orig 'not-a-number' is not an E.164 number" in err
    code, _, err = _run(
        "passport", "sign", "--key", str(tmp_path / "shaken.key"), "--x5u", X5U, "--orig", ORIG,
        "--dest", DEST, "--attest", "A", "--cert", str(tmp_path / "chain.pem"), "--iat", "1",
    )  # fmt: skip
    assert code == 2 and "not yet valid" in err


def test_verify_without_a_certificate_or_ca_says_what_to_give() -> None:
    code, _, err = _run("passport", "verify", "--identity", "x.y.z;info=<https://a.test/c>")
    assert code == 2 and "--cert" in err


def test_trusting_a_root_adds_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARLINE_HOME", str(tmp_path / "home"))
    _run("certs", "test-ca", "--spc", "1234", "--out", str(tmp_path / "ca"))
    code, out, _ = _run("certs", "trust", "--ca", str(tmp_path / "ca" / "root.pem"))
    assert code == 0 and out.startswith("1 new trust anchor")
    code, out, _ = _run("certs", "trust", "--ca", str(tmp_path / "ca" / "root.pem"))
    assert code == 0 and out.startswith("0 new trust anchor")
    anchors = load_trust_anchors(tmp_path / "home")
    assert [a.subject.rfc4514_string() for a in anchors] == [
        "CN=Clearline Test STI Root,O=Clearline Test STI-CA,C=US"
    ]
    code, _, err = _run("certs", "trust", "--ca", str(tmp_path / "ca" / "shaken.pem"))
    assert code == 2 and "not a CA certificate" in err
