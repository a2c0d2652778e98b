"""The verifier accepts genuine, fresh headers about this call and refuses everything else with the
right reason and RFC 8224 response, never with an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestation.certificates import TestCertificateAuthority
from attestation.passport import b64url, b64url_decode
from attestation.verify import PinnedCertificate, VerifyResult, verify_identity
from tests.attestation.conftest import DEST, ORIG, ORIGID, SPC, X5U, Signing, signed_token

HEADER = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U}


def _claims(**changes: object) -> dict[str, object]:
    return {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": 0,
        "orig": {"tn": ORIG},
        "origid": ORIGID,
        **changes,
    }


def _compact(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _verify(signing: Signing, value: str, *, now: int | None = None, source=None, **kw) -> VerifyResult:  # type: ignore[no-untyped-def]
    return verify_identity(
        value,
        orig=kw.get("orig", ORIG),
        dest=kw.get("dest", DEST),
        now=signing.now if now is None else now,
        certificates=source or signing.source(),
        **{k: v for k, v in kw.items() if k not in ("orig", "dest")},
    )


def _refused(result: VerifyResult, reason: str, response: int) -> None:
    assert not result.ok
    assert (result.reason, result.response) == (reason, response), result


def test_genuine_header_is_valid_and_returns_claims(signing: Signing) -> None:
    result = _verify(signing, signing.header())
    assert result.ok and result.reason == "valid" and result.spc == SPC
    assert result.claims is not None and result.claims["attest"] == "A"


def test_tampered_payload_is_a_bad_signature(signing: Signing) -> None:
    header_b64, _, signature = signing.header().split(".", 2)
    forged = b64url(_compact(_claims(iat=signing.now, attest="A", orig={"tn": "12025550199"})))
    _refused(_verify(signing, f"{header_b64}.{forged}.{signature}", orig="12025550199"), "bad_signature", 438)


def test_tampered_signature_is_a_bad_signature(signing: Signing) -> None:
    value = signing.header()
    jws, params = value.split(";", 1)
    signature = bytearray(b64url_decode(jws.rsplit(".", 1)[1]))
    signature[10] ^= 1
    _refused(
        _verify(signing, f"{jws.rsplit('.', 1)[0]}.{b64url(bytes(signature))};{params}"), "bad_signature", 438
    )


def test_signature_by_another_key_is_a_bad_signature(signing: Signing) -> None:
    now = datetime.now(UTC)
    other_key, _ = signing.ca.issue(SPC, not_before=now, not_after=now + timedelta(days=1))
    value = signed_token(other_key, _compact(HEADER), _compact(_claims(iat=signing.now)))
    _refused(_verify(signing, value), "bad_signature", 438)


def test_info_differing_from_x5u_is_bad_identity_info(signing: Signing) -> None:
    value = signed_token(
        signing.key, _compact(HEADER), _compact(_claims(iat=signing.now)), info="https://evil.test/c.pem"
    )
    _refused(_verify(signing, value), "info_mismatch", 436)


@pytest.mark.parametrize(("offset_days", "reason"), [(-400, "cert_expired"), (30, "cert_not_yet_valid")])
def test_certificate_outside_its_validity_is_unsupported_credential(
    signing: Signing, offset_days: int, reason: str
) -> None:
    start = datetime.now(UTC) + timedelta(days=offset_days)
    key, cert = signing.ca.issue(SPC, not_before=start, not_after=start + timedelta(days=60))
    value = signed_token(key, _compact(HEADER), _compact(_claims(iat=signing.now)))
    source = PinnedCertificate([cert, signing.ca.intermediate], signing.anchors)
    _refused(_verify(signing, value, source=source), reason, 437)


def test_certificate_without_tnauthlist_is_unsupported_credential(signing: Signing) -> None:
    now = datetime.now(UTC)
    key, cert = signing.ca.issue(
        SPC, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1), with_tn_auth_list=False
    )
    value = signed_token(key, _compact(HEADER), _compact(_claims(iat=signing.now)))
    source = PinnedCertificate([cert, signing.ca.intermediate], signing.anchors)
    _refused(_verify(signing, value, source=source), "missing_tnauthlist", 437)


def test_certificate_from_an_untrusted_ca_is_unsupported_credential(signing: Signing) -> None:
    now = datetime.now(UTC)
    stranger = TestCertificateAuthority.create(now)
    key, cert = stranger.issue(SPC, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1))
    value = signed_token(key, _compact(HEADER), _compact(_claims(iat=signing.now)))
    source = PinnedCertificate([cert, stranger.intermediate], signing.anchors)
    _refused(_verify(signing, value, source=source), "untrusted_chain", 437)


def test_non_canonical_json_is_refused_even_when_correctly_signed(signing: Signing) -> None:
    spaced = json.dumps(_claims(iat=signing.now), sort_keys=True).encode()  # ", " and ": " separators
    _refused(_verify(signing, signed_token(signing.key, _compact(HEADER), spaced)), "non_canonical", 438)
    unsorted = json.dumps(
        {"x5u": X5U, "alg": "ES256", "ppt": "shaken", "typ": "passport"}, separators=(",", ":")
    )
    value = signed_token(signing.key, unsorted.encode(), _compact(_claims(iat=signing.now)))
    _refused(_verify(signing, value), "non_canonical", 438)


def test_string_iat_is_refused(signing: Signing) -> None:
    value = signed_token(signing.key, _compact(HEADER), _compact(_claims(iat=str(signing.now))))
    _refused(_verify(signing, value), "iat_not_integer", 438)


def test_stale_iat_is_stale_date(signing: Signing) -> None:
    _refused(_verify(signing, signing.header(iat=signing.now - 61)), "stale_iat", 403)
    assert _verify(signing, signing.header(iat=signing.now - 60)).ok
    assert _verify(signing, signing.header(iat=signing.now - 61), max_age_s=120).ok


def test_far_future_iat_is_stale_date(signing: Signing) -> None:
    _refused(_verify(signing, signing.header(iat=signing.now + 3600)), "future_iat", 403)
    assert _verify(signing, signing.header(iat=signing.now + 2)).ok


def test_alg_other_than_es256_is_refused_in_token_and_parameter(signing: Signing) -> None:
    value = signed_token(
        signing.key, _compact({**HEADER, "alg": "ES384"}), _compact(_claims(iat=signing.now))
    )
    _refused(_verify(signing, value), "unsupported_alg", 438)
    _refused(_verify(signing, signing.header().replace("alg=ES256", "alg=RS256")), "unsupported_alg", 438)


def test_other_ppt_or_typ_is_refused(signing: Signing) -> None:
    _refused(_verify(signing, signing.header().replace("ppt=shaken", "ppt=div")), "unsupported_ppt", 438)
    value = signed_token(signing.key, _compact({**HEADER, "typ": "JWT"}), _compact(_claims(iat=signing.now)))
    _refused(_verify(signing, value), "bad_typ", 438)


def test_numbers_must_match_the_call(signing: Signing) -> None:
    _refused(_verify(signing, signing.header(), orig="12025550100"), "orig_mismatch", 438)
    _refused(_verify(signing, signing.header(), dest="+13035550199"), "dest_mismatch", 438)
    assert _verify(signing, signing.header(), orig="+" + ORIG, dest="+" + DEST).ok


def test_missing_header_asks_for_one(signing: Signing) -> None:
    _refused(_verify(signing, "  "), "missing_identity", 428)


def test_missing_info_is_bad_identity_info(signing: Signing) -> None:
    jws = signing.header().split(";", 1)[0]
    _refused(_verify(signing, jws), "missing_info", 436)
    _refused(_verify(signing, jws + ";alg=ES256;ppt=shaken"), "missing_info", 436)


@pytest.mark.parametrize(
    ("parameter", "garbage", "reason", "response"),
    [
        ("info", "info=https://no-angle-brackets.test", "bad_info", 436),
        ("info", "info=<>", "bad_info", 436),
        ("info", "info=<https://a.test/x> junk", "malformed_parameter", 438),
        ("alg", "alg=", "malformed_parameter", 438),
        ("alg", "alg=\x00\x01", "malformed_parameter", 438),
        ("alg", "alg=ES256;alg=ES256", "malformed_parameter", 438),
        ("ppt", 'ppt="shaken', "malformed_parameter", 438),
        ("ppt", "ppt", "malformed_parameter", 438),
        ("ppt", "ppt=sha ken", "malformed_parameter", 438),
    ],
)
def test_garbage_in_each_header_parameter_is_refused(
    signing: Signing, parameter: str, garbage: str, reason: str, response: int
) -> None:
    jws, params = signing.header().split(";", 1)
    rebuilt = ";".join(garbage if p.startswith(parameter) else p for p in params.split(";"))
    _refused(_verify(signing, f"{jws};{rebuilt}"), reason, response)


@pytest.mark.parametrize(
    "jws",
    [
        "onlyonepart",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        f"{b64url(b'not json')}.{b64url(b'{}')}.AAAA",
        f"{b64url(b'[1,2]')}.{b64url(b'{}')}.AAAA",
        f"{b64url(b'[' * 5000)}.{b64url(b'{}')}.AAAA",
    ],
)
def test_garbage_in_the_token_is_an_invalid_identity_header(signing: Signing, jws: str) -> None:
    result = _verify(signing, f"{jws};info=<{X5U}>;alg=ES256;ppt=shaken")
    assert not result.ok and result.response == 438, result


def test_signature_of_the_wrong_length_is_a_bad_signature(signing: Signing) -> None:
    jws, params = signing.header().split(";", 1)
    truncated = jws[:-4]
    _refused(_verify(signing, f"{truncated};{params}"), "bad_signature", 438)


@settings(max_examples=300, deadline=None)
@given(noise=st.text(max_size=300), position=st.integers(0, 600))
def test_random_corruption_never_raises(signing: Signing, noise: str, position: int) -> None:
    value = signing.header()
    corrupted = value[:position] + noise + value[position + len(noise) :]
    result = _verify(signing, corrupted)
    if result.ok:  # only a harmless change (e.g. to nothing) may still verify: the signed token is intact
        assert corrupted.split(";")[0] == value.split(";")[0]
    else:
        assert result.response in (403, 428, 436, 437, 438)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(["attest", "dest", "iat", "orig", "origid", "extra"]), json_values, max_size=3
    )
)
def test_correctly_signed_claims_of_any_shape_never_raise(
    signing: Signing, changes: dict[str, object]
) -> None:
    claims = {**_claims(iat=signing.now), **changes}
    result = _verify(signing, signed_token(signing.key, _compact(HEADER), _compact(claims)))
    if not result.ok:
        assert result.response in (403, 438), result
    else:
        assert result.claims == claims
