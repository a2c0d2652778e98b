"""PASSporT serialization and signing: canonical, ES256 R||S, readable by an independent JWT library."""

from __future__ import annotations

import json

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attestation.passport import Claims, PassportError, b64url_decode, canonical_json, sign_passport
from tests.attestation.conftest import DEST, ORIG, ORIGID, X5U, Signing

digits = st.text("0123456789", min_size=1, max_size=15)


@given(
    orig=digits,
    dest=st.lists(digits, min_size=1, max_size=3),
    iat=st.integers(0, 2**40),
    level=st.sampled_from("ABC"),
)
def test_fast_claims_layout_is_exactly_the_canonical_json(
    orig: str, dest: list[str], iat: int, level: str
) -> None:
    claims = Claims.of(orig=orig, dest=dest, attest=level, origid=ORIGID, iat=iat)
    assert claims.canonical() == canonical_json(claims.as_json())


def test_signed_passport_decodes_with_pyjwt_and_has_sorted_compact_parts(signing: Signing) -> None:
    claims = Claims.of(orig="+" + ORIG, dest=[DEST], attest="B", origid=ORIGID, iat=1_700_000_000)
    token = sign_passport(signing.key, X5U, claims)
    header_b64, payload_b64, signature_b64 = token.split(".")
    assert b64url_decode(header_b64) == (
        b'{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://certs.clearline.test/shaken.pem"}'
    )
    assert json.loads(b64url_decode(payload_b64)) == {
        "attest": "B",
        "dest": {"tn": [DEST]},
        "iat": 1_700_000_000,
        "orig": {"tn": ORIG},
        "origid": ORIGID,
    }
    assert len(b64url_decode(signature_b64)) == 64
    decoded = jwt.decode(
        token, signing.cert.public_key(), algorithms=["ES256"], options={"verify_iat": False}
    )
    assert decoded["orig"] == {"tn": ORIG}


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("attest", {"attest": "D"}),
        ("dest", {"dest": []}),
        ("dest", {"dest": ["1-202-555"]}),
        ("dest", {"dest": "13035550100"}),
        ("dest", {"dest": ["١٢٠٢٥٥٥٠١٤٣"]}),
        ("orig", {"orig": "tel:+12025550143"}),
        ("orig", {"orig": "1234567890123456"}),
        ("iat", {"iat": "1700000000"}),
        ("iat", {"iat": True}),
        ("origid", {"origid": "not-a-uuid"}),
    ],
)
def test_bad_claims_are_refused_naming_the_field(field: str, kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"orig": ORIG, "dest": [DEST], "attest": "A", "origid": ORIGID, "iat": 1}
    with pytest.raises(PassportError, match=field):
        Claims.of(**{**base, **kwargs})  # type: ignore[arg-type]


def test_origid_is_written_in_canonical_lowercase_form() -> None:
    for written in (ORIGID.upper(), "{" + ORIGID + "}", ORIGID.replace("-", "")):
        claims = Claims.of(orig=ORIG, dest=[DEST], attest="A", origid=written, iat=1)
        assert claims.origid == ORIGID
