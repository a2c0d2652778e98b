"""The STI verification service (RFC 8224 §6.2, ATIS-1000074 §5.3): is an Identity header genuine,
fresh, and about this call?

`verify_identity` never raises on bad input: every failure is a `VerifyResult` with a short reason code
and the RFC 8224 response a SIP verifier would send. Certificates come from a `CertificateSource`: a
pinned local certificate (no network) or `X5uFetcher` (HTTPS with timeout, size limit and cache).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from attestation.certificates import (
    CertificateError,
    ValidatedCertificate,
    check_not_revoked,
    crl_urls,
    load_certificates,
    validate_chain,
)
from attestation.identity_header import IdentityHeaderError, SipResponse, parse_identity_header
from attestation.passport import (
    ATTESTATION_LEVELS,
    ES256,
    PassportError,
    b64url_decode,
    canonical_json,
    parse_json,
    telephone_number,
)

DEFAULT_MAX_AGE_S = 60
DEFAULT_MAX_FUTURE_S = 5
"""How far ahead of our clock an `iat` may be (clock skew); beyond that it is rejected as far-future."""

CERTIFICATE_RESPONSES = {
    "x5u_fetch_failed": SipResponse.BAD_IDENTITY_INFO,
    "bad_x5u": SipResponse.BAD_IDENTITY_INFO,
    "x5u_not_public": SipResponse.BAD_IDENTITY_INFO,
}
"""Certificate failures that are about dereferencing `info`; every other one is 437 Unsupported Credential."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str
    """`valid`, or a short failure code such as `bad_signature`, `stale_iat`, `info_mismatch`."""
    response: int | None
    """The RFC 8224 SIP response for a failure (403, 428, 436, 437, 438); None when valid."""
    detail: str
    claims: dict[str, Any] | None = None
    spc: str | None = None


class VerificationFailure(Exception):
    def __init__(self, reason: str, detail: str, response: SipResponse) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.response = response


def _invalid(reason: str, detail: str) -> VerificationFailure:
    return VerificationFailure(reason, detail, SipResponse.INVALID_IDENTITY_HEADER)


class CertificateSource(Protocol):
    def certificate_for(self, x5u: str, now: int) -> ValidatedCertificate:
        """The validated signing certificate behind `x5u`; raises `CertificateError`."""
        ...


class PinnedCertificate:
    """A locally supplied certificate chain used whatever `x5u` says (no network): for tests, the CLI's
    `--cert` and a carrier simulator that knows our certificate. With `trust_anchors` the chain must also
    lead to one of them; without, the leaf itself is trusted."""

    def __init__(
        self, chain: Sequence[x509.Certificate], trust_anchors: Sequence[x509.Certificate] | None = None
    ):
        self._chain = list(chain)
        self._anchors = None if trust_anchors is None else list(trust_anchors)
        self._validated: ValidatedCertificate | None = None

    def certificate_for(self, x5u: str, now: int) -> ValidatedCertificate:
        if self._validated is None:
            self._validated = validate_chain(self._chain, now=now, trust_anchors=self._anchors)
        self._validated.check_valid_at(now)
        return self._validated


@dataclass
class _Cached:
    certificate: ValidatedCertificate | None
    error: CertificateError | None
    expires_at: int


class X5uFetcher:
    """Fetches `x5u` certificate chains over HTTPS and keeps the validated result for `ttl_s` (failures
    for `failure_ttl_s`, so a broken URL is not hammered once per call). A download must finish within
    `timeout_s` overall, not just per read, so a server dripping bytes cannot hold a call.

    With `public_only` (for x5u URLs that users submit) hosts resolving to loopback, private or
    link-local addresses are refused, so the verifier cannot be pointed at internal services. The check
    resolves the name before connecting: it does not stop DNS rebinding.

    With `check_crl` the signing certificate's CRL (from its CRL distribution point, signed by its
    issuer) is fetched with the chain and cached with it; a revoked certificate is `cert_revoked`, and a
    CRL that cannot be had or trusted fails closed as `crl_unavailable`."""

    def __init__(
        self,
        *,
        trust_anchors: Sequence[x509.Certificate],
        timeout_s: float = 2.0,
        ttl_s: int = 3600,
        failure_ttl_s: int = 10,
        max_bytes: int = 64 * 1024,
        max_entries: int = 10_000,
        tls: ssl.SSLContext | None = None,
        public_only: bool = False,
        check_crl: bool = False,
    ) -> None:
        self._anchors = list(trust_anchors)
        self._check_crl = check_crl
        self._public_only = public_only
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._client = httpx.Client(
            timeout=timeout_s, follow_redirects=False, verify=tls if tls is not None else True
        )
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.fetches = 0

    def close(self) -> None:
        self._client.close()

    def certificate_for(self, x5u: str, now: int) -> ValidatedCertificate:
        entry = self._cache.get(x5u)
        if entry is None or entry.expires_at <= now:
            entry = self._refresh(x5u, now)
        if entry.error is not None:
            raise entry.error
        assert entry.certificate is not None
        entry.certificate.check_valid_at(now)
        return entry.certificate

    def _refresh(self, x5u: str, now: int) -> _Cached:
        """One fetch per URL at a time (concurrent calls for it wait and share the result); fetches of
        different URLs do not wait for each other."""
        with self._locks_guard:
            lock = self._locks.setdefault(x5u, threading.Lock())
        with lock:
            entry = self._cache.get(x5u)
            if entry is None or entry.expires_at <= now:
                entry = self._fetch_and_validate(x5u, now)
                with self._locks_guard:
                    if len(self._cache) >= self._max_entries:  # crude bound: start over rather than grow
                        self._cache.clear()
                        self._locks = {x5u: lock}
                    self._cache[x5u] = entry
        return entry

    def _fetch_and_validate(self, x5u: str, now: int) -> _Cached:
        try:
            if not x5u.startswith("https://"):
                raise CertificateError("bad_x5u", f"x5u {x5u!r} is not an https URL")
            pem = self._download(x5u)
            validated = validate_chain(load_certificates(pem), now=now, trust_anchors=self._anchors)
            if self._check_crl:
                self._check_revocation(validated, now)
        except CertificateError as exc:
            return _Cached(None, exc, now + self._failure_ttl_s)
        return _Cached(validated, None, now + self._ttl_s)

    def _check_revocation(self, validated: ValidatedCertificate, now: int) -> None:
        urls = crl_urls(validated.certificate)
        if not urls:
            raise CertificateError(
                "crl_unavailable", "the signing certificate names no CRL distribution point"
            )
        try:
            crl = self._download(urls[0])
        except CertificateError as exc:
            raise CertificateError("crl_unavailable", f"the CRL could not be fetched: {exc}") from exc
        check_not_revoked(validated, crl, now=now)

    def _check_public(self, x5u: str) -> None:
        try:
            host = httpx.URL(x5u).host
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)}
        except (httpx.InvalidURL, ValueError, OSError) as exc:
            raise CertificateError("x5u_fetch_failed", f"cannot resolve the host of {x5u}: {exc}") from exc
        internal = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global)
        if internal:
            raise CertificateError(
                "x5u_not_public", f"x5u host {host} resolves to non-public address(es) {internal}"
            )

    def _download(self, x5u: str) -> bytes:
        if self._public_only:
            self._check_public(x5u)
        self.fetches += 1
        deadline = time.monotonic() + self._timeout_s
        try:
            with self._client.stream("GET", x5u) as response:
                if response.status_code != 200:
                    raise CertificateError("x5u_fetch_failed", f"GET {x5u} answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise CertificateError(
                            "x5u_fetch_failed", f"{x5u} is larger than {self._max_bytes} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise CertificateError(
                            "x5u_fetch_failed", f"{x5u} took longer than {self._timeout_s} s"
                        )
                return bytes(body)
        except CertificateError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: URLs httpx cannot parse
            raise CertificateError(
                "x5u_fetch_failed", f"GET {x5u} failed: {type(exc).__name__}: {exc}"
            ) from exc


def _decode_json_part(part: str, what: str) -> dict[str, Any]:
    try:
        raw = b64url_decode(part)
        value = parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise _invalid("malformed_jws", f"the PASSporT {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise _invalid("malformed_jws", f"the PASSporT {what} is not a JSON object")
    if canonical_json(value) != raw:
        raise _invalid(
            "non_canonical", f"the PASSporT {what} is not canonical JSON (sorted keys, no whitespace)"
        )
    return value


def _tn(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid("bad_claims", f"{what} is not a string")
    try:
        digits = telephone_number(value, what)
    except PassportError as exc:
        raise _invalid("bad_claims", str(exc)) from exc
    if digits != value:
        raise _invalid("bad_claims", f"{what} {value!r} must be digits only")
    return digits


@functools.lru_cache(maxsize=1024)
def _jose_header_x5u(header_b64: str) -> str:
    """The x5u of a well-formed SHAKEN JOSE header. Cached: a signer sends the same header on every call,
    so after the first one this is a dict lookup (failures raise and are not cached)."""
    header = _decode_json_part(header_b64, "header")
    if header.get("alg") != "ES256":
        raise _invalid("unsupported_alg", f"PASSporT alg {header.get('alg')!r} is not ES256")
    if header.get("ppt") != "shaken":
        raise _invalid("unsupported_ppt", f"PASSporT ppt {header.get('ppt')!r} is not shaken")
    if header.get("typ") != "passport":
        raise _invalid("bad_typ", f"PASSporT typ {header.get('typ')!r} is not passport")
    x5u = header.get("x5u")
    if not isinstance(x5u, str):
        raise _invalid("missing_x5u", "the PASSporT header has no x5u")
    return x5u


def _check_x5u_is_info(x5u: str, info: str) -> None:
    if x5u != info:
        raise VerificationFailure(
            "info_mismatch",
            f"info <{info}> differs from the PASSporT x5u {x5u}",
            SipResponse.BAD_IDENTITY_INFO,
        )


def _check_claims(claims: dict[str, Any]) -> tuple[int, str, list[str]]:
    attest = claims.get("attest")
    if attest not in ATTESTATION_LEVELS:
        raise _invalid("bad_claims", f"attest {attest!r} is not A, B or C")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise _invalid("iat_not_integer", f"iat {iat!r} is not an integer number of seconds")
    orig, dest = claims.get("orig"), claims.get("dest")
    if not isinstance(orig, dict) or not isinstance(dest, dict):
        raise _invalid("bad_claims", "orig and dest must be objects")
    dest_tns = dest.get("tn")
    if not isinstance(dest_tns, list) or not dest_tns:
        raise _invalid("bad_claims", "dest.tn must be a non-empty array")
    if not isinstance(claims.get("origid"), str):
        raise _invalid("bad_claims", "origid is missing")
    return iat, _tn(orig.get("tn"), "orig.tn"), [_tn(t, "dest.tn") for t in dest_tns]


def _check_signature(certificate: ValidatedCertificate, signing_input: str, signature_b64: str) -> None:
    try:
        signature = b64url_decode(signature_b64)
    except PassportError as exc:
        raise _invalid("bad_signature", "the signature is not base64url") from exc
    if len(signature) != 64:
        raise _invalid(
            "bad_signature", f"an ES256 signature is 64 bytes (R||S), this one is {len(signature)}"
        )
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        certificate.public_key.verify(der, signing_input.encode("ascii"), ES256)
    except InvalidSignature:
        raise _invalid(
            "bad_signature", "the signature does not verify with the x5u certificate's key"
        ) from None


def _verify(
    header: str,
    *,
    orig: str | None,
    dest: str | None,
    now: int,
    certificates: CertificateSource,
    max_age_s: int,
    max_future_s: int,
) -> VerifyResult:
    try:
        parsed = parse_identity_header(header)
    except IdentityHeaderError as exc:
        raise VerificationFailure(exc.reason, str(exc), exc.response) from exc
    if parsed.alg != "ES256":
        raise _invalid("unsupported_alg", f"Identity alg parameter {parsed.alg!r} is not ES256")
    if parsed.ppt != "shaken":
        raise _invalid("unsupported_ppt", f"Identity ppt parameter {parsed.ppt!r} is not shaken")
    header_b64, payload_b64, signature_b64 = parsed.jws.split(".")
    x5u = _jose_header_x5u(header_b64)
    _check_x5u_is_info(x5u, parsed.info)
    claims = _decode_json_part(payload_b64, "payload")
    iat, claimed_orig, claimed_dest = _check_claims(claims)
    if now - iat > max_age_s:
        raise VerificationFailure(
            "stale_iat", f"iat is {now - iat} s old, more than {max_age_s} s", SipResponse.STALE_DATE
        )
    if iat - now > max_future_s:
        raise VerificationFailure(
            "future_iat",
            f"iat is {iat - now} s in the future (allowed {max_future_s} s)",
            SipResponse.STALE_DATE,
        )
    try:
        if orig is not None and telephone_number(orig, "orig") != claimed_orig:
            raise _invalid("orig_mismatch", f"the call is from {orig}, the PASSporT says {claimed_orig}")
        if dest is not None and telephone_number(dest, "dest") not in claimed_dest:
            raise _invalid("dest_mismatch", f"the call is to {dest}, the PASSporT names {claimed_dest}")
    except PassportError as exc:
        raise _invalid("bad_call_number", str(exc)) from exc
    try:
        certificate = certificates.certificate_for(x5u, now)
    except CertificateError as exc:
        response = CERTIFICATE_RESPONSES.get(exc.reason, SipResponse.UNSUPPORTED_CREDENTIAL)
        raise VerificationFailure(exc.reason, str(exc), response) from exc
    _check_signature(certificate, f"{header_b64}.{payload_b64}", signature_b64)
    return VerifyResult(True, "valid", None, f"signed by SPC {certificate.spc}", claims, certificate.spc)


def verify_identity(
    header: str,
    *,
    orig: str | None,
    dest: str | None,
    now: int,
    certificates: CertificateSource,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    max_future_s: int = DEFAULT_MAX_FUTURE_S,
) -> VerifyResult:
    """Verify one Identity header value for a call from `orig` to `dest` (None skips that comparison)
    at unix time `now`. Never raises for bad input; the result says why a header is refused."""
    try:
        return _verify(
            header,
            orig=orig,
            dest=dest,
            now=now,
            certificates=certificates,
            max_age_s=max_age_s,
            max_future_s=max_future_s,
        )
    except VerificationFailure as failure:
        return VerifyResult(False, failure.reason, int(failure.response), failure.detail)
