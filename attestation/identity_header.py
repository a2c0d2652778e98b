"""The SIP `Identity` header (RFC 8224 §4.1) in full form, and the RFC 8224 failure responses.

`<jws>;info=<x5u>;alg=ES256;ppt=shaken`: building is one f-string; parsing is strict and reports the
RFC 8224 response a verifier should send for a malformed header (438) or a bad `info` (436).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class SipResponse(enum.IntEnum):
    """RFC 8224 §6.2.2 responses of a verification service (and 403 Stale Date)."""

    STALE_DATE = 403
    USE_IDENTITY_HEADER = 428
    BAD_IDENTITY_INFO = 436
    UNSUPPORTED_CREDENTIAL = 437
    INVALID_IDENTITY_HEADER = 438


class IdentityHeaderError(ValueError):
    """A malformed Identity header: `reason` is a short code, `response` the SIP answer."""

    def __init__(self, reason: str, message: str, response: SipResponse) -> None:
        super().__init__(message)
        self.reason = reason
        self.response = response


@dataclass(frozen=True)
class IdentityHeader:
    """The parts of a full-form Identity header."""

    jws: str
    info: str
    alg: str
    ppt: str
    params: tuple[tuple[str, str], ...]


def identity_header(jws: str, x5u: str) -> str:
    """The full-form header value for a SHAKEN PASSporT signed for the certificate at `x5u`."""
    return f"{jws};info=<{x5u}>;alg=ES256;ppt=shaken"


_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_PARAM_NAME = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # RFC 3261 token
_TOKEN_VALUE = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+|\"[^\"\r\n]*\"")
_INFO_URI = re.compile(r"<([^<>\s]+)>")
MAX_HEADER_BYTES = 8192
_USUAL_FORM = re.compile(
    r"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+);info=<([^<>\s]+)>;alg=ES256;ppt=shaken"
)
"""What every SHAKEN signer sends (and what `identity_header` builds): recognized in one match."""


def _malformed(reason: str, message: str) -> IdentityHeaderError:
    return IdentityHeaderError(reason, message, SipResponse.INVALID_IDENTITY_HEADER)


def parse_identity_header(value: str) -> IdentityHeader:
    """Split a full-form header into its JWS and parameters, refusing anything malformed."""
    usual = _USUAL_FORM.fullmatch(value)
    if usual is not None and len(value) <= MAX_HEADER_BYTES:
        jws, info = usual.groups()
        return IdentityHeader(
            jws, info, "ES256", "shaken", (("info", info), ("alg", "ES256"), ("ppt", "shaken"))
        )
    value = value.strip()
    if value.lower().startswith("identity:"):
        value = value[len("identity:") :].strip()
    if not value:
        raise IdentityHeaderError("missing_identity", "no Identity header", SipResponse.USE_IDENTITY_HEADER)
    if len(value) > MAX_HEADER_BYTES:
        raise _malformed("malformed_header", f"Identity header longer than {MAX_HEADER_BYTES} bytes")
    jws, sep, rest = value.partition(";")
    jws = jws.rstrip()  # RFC 3261 SEMI allows whitespace around ';'
    if not _JWS.fullmatch(jws):
        raise _malformed(
            "malformed_jws", "the signed part is not a compact JWS (three base64url parts joined by '.')"
        )
    if not sep:
        raise IdentityHeaderError(
            "missing_info", "the Identity header has no info parameter", SipResponse.BAD_IDENTITY_INFO
        )
    params: list[tuple[str, str]] = []
    while rest:
        name, eq, tail = rest.partition("=")
        name = name.strip()
        if not eq or not _PARAM_NAME.fullmatch(name):
            raise _malformed(
                "malformed_parameter", f"Identity header parameter {rest[:40]!r} is not name=value"
            )
        tail = tail.strip()
        pattern = _INFO_URI if name.lower() == "info" else _TOKEN_VALUE
        match = pattern.match(tail)
        if match is None:
            if name.lower() == "info":
                raise IdentityHeaderError(
                    "bad_info", "the info parameter is not an <absolute URI>", SipResponse.BAD_IDENTITY_INFO
                )
            raise _malformed(
                "malformed_parameter", f"Identity header parameter {name!r} has a malformed value"
            )
        params.append((name.lower(), match.group(1) if name.lower() == "info" else match.group(0)))
        tail = tail[match.end() :].lstrip()
        if tail and not tail.startswith(";"):
            raise _malformed("malformed_parameter", f"unexpected text after parameter {name!r}")
        rest = tail[1:]
    names = [n for n, _ in params]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise _malformed("malformed_parameter", f"Identity header parameter(s) {sorted(duplicated)} repeated")
    found = dict(params)
    if "info" not in found:
        raise IdentityHeaderError(
            "missing_info", "the Identity header has no info parameter", SipResponse.BAD_IDENTITY_INFO
        )
    return IdentityHeader(
        jws=jws,
        info=found["info"],
        alg=found.get("alg", "ES256"),  # RFC 8224 §4.1: alg defaults to ES256 when absent
        ppt=found.get("ppt", ""),
        params=tuple(params),
    )
