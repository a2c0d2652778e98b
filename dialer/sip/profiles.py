"""Trunk profiles (`sip_profiles/*.toml`): where calls go and under which rules, loaded and validated.

A profile never holds a secret: auth names the *environment variables* that hold the username and
password. Every rule violation raises `ProfileError` naming the file, the field and the rule. The
SIP-status → outcome mapping lives here too (`outcome_for_status`), as a pure function.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ValidationError
from core.legal import MIN_RING_S
from dialer.sip.protocol import SipOutcome

RING_TIMEOUT_FLOOR_S = MIN_RING_S
ALLOWED_CODECS = ("PCMU", "PCMA", "telephone-event")
TRANSPORTS = ("udp", "tcp", "tls")
PRESENTATIONS = ("from_and_pai", "from_only", "restricted")
PROFILES_DIR = Path(__file__).resolve().parents[2] / "sip_profiles"

DEFAULT_STATUS_OUTCOMES: dict[int, SipOutcome] = {
    486: SipOutcome.BUSY,
    600: SipOutcome.BUSY,
    603: SipOutcome.BUSY,
    404: SipOutcome.INVALID,
    410: SipOutcome.INVALID,
    484: SipOutcome.INVALID,
    604: SipOutcome.INVALID,
    408: SipOutcome.NO_ANSWER,
    480: SipOutcome.NO_ANSWER,
    428: SipOutcome.IDENTITY_REJECTED,
    436: SipOutcome.IDENTITY_REJECTED,
    437: SipOutcome.IDENTITY_REJECTED,
    438: SipOutcome.IDENTITY_REJECTED,
}


class ProfileError(ValidationError):
    """A trunk profile broke a rule; the message names the file, the field and the rule."""


@dataclass(frozen=True)
class TrunkAuth:
    username_env: str
    password_env: str
    realm: str = "*"

    def credentials(self) -> tuple[str, str]:
        """Read the secrets from the environment at use time (never cached in the profile)."""
        user, password = os.environ.get(self.username_env), os.environ.get(self.password_env)
        if user is None or password is None:
            missing = self.username_env if user is None else self.password_env
            raise ProfileError(f"trunk auth: environment variable {missing} is not set", field="auth")
        return user, password


@dataclass(frozen=True)
class TrunkProfile:
    name: str
    proxy: str
    """Host[:port] INVITEs are sent to; a lead number N becomes sip:N@proxy."""
    transport: str = "udp"
    registrar: str = ""
    auth: TrunkAuth | None = None
    presentation: str = "from_and_pai"
    stir_shaken: bool = True
    certificate: str = ""
    max_cps: float = 30.0
    max_concurrent_calls: int = 300
    codecs: tuple[str, ...] = ALLOWED_CODECS
    ring_timeout_s: float = 25.0
    amd_header: str = ""
    """Response header of the 200 OK whose value `machine` marks an answering machine (simulated AMD)."""
    status_outcomes: dict[int, SipOutcome] = field(default_factory=dict)

    def request_uri(self, to: str) -> str:
        if to.startswith(("sip:", "sips:")):
            return to
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{to}@{self.proxy}{suffix}"

    def effective_ring_timeout(self, requested_s: float) -> float:
        """The ring time actually allowed: never below the floor, never below the profile's own timeout."""
        return max(requested_s, self.ring_timeout_s, RING_TIMEOUT_FLOOR_S)

    def outcome_for_status(
        self, status: int, *, ring_timeout_expired: bool, cancelled: bool, rang: bool = True
    ) -> SipOutcome:
        return outcome_for_status(
            status,
            ring_timeout_expired=ring_timeout_expired,
            cancelled=cancelled,
            rang=rang,
            overrides=self.status_outcomes,
        )


def outcome_for_status(
    status: int,
    *,
    ring_timeout_expired: bool,
    cancelled: bool,
    rang: bool = True,
    overrides: dict[int, SipOutcome] | None = None,
) -> SipOutcome:
    """Map a lead call's final SIP status to its SIP-level outcome.

    Our own CANCEL after the ring timeout (487) is NO_ANSWER; a CANCEL the engine asked for is CANCELLED;
    profile overrides win over the defaults; other 4xx/5xx/6xx and no response at all are TRUNK_FAILURE
    (which does not burn the lead). A call that never rang (no 180/183) and ran into our ring timeout or
    pjsip's own transaction timeout (408) is TRUNK_FAILURE too: the trunk, not the callee, was silent."""
    if 200 <= status < 300:
        return SipOutcome.ANSWERED
    if not rang and not cancelled and (ring_timeout_expired or status in (0, 408)):
        return SipOutcome.TRUNK_FAILURE
    if ring_timeout_expired:
        return SipOutcome.NO_ANSWER
    if cancelled:
        return SipOutcome.CANCELLED
    if overrides and status in overrides:
        return overrides[status]
    if status in DEFAULT_STATUS_OUTCOMES:
        return DEFAULT_STATUS_OUTCOMES[status]
    return SipOutcome.TRUNK_FAILURE


def available_profiles(profiles_dir: Path | None = None) -> list[str]:
    """The names of the trunk profiles that exist (the `.toml` files of the profiles dir), sorted."""
    directory = profiles_dir or PROFILES_DIR
    return sorted(p.stem for p in directory.glob("*.toml") if not p.name.startswith("."))


def load_profile(name: str, profiles_dir: Path | None = None) -> TrunkProfile:
    """Load and validate `<profiles_dir>/<name>.toml` (default dir: the shipped `sip_profiles/`)."""
    directory = profiles_dir or PROFILES_DIR
    if not name or "/" in name or name.startswith("."):
        raise ProfileError(f"trunk profile name {name!r} is not a plain file name", field="trunk")
    path = directory / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"trunk profile {name!r} not found in {directory}", field="trunk")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML: {exc}", field="trunk") from exc
    return parse_profile(name, data, source=path.name)


def parse_profile(name: str, data: dict[str, Any], *, source: str = "<profile>") -> TrunkProfile:
    """Validate a profile's parsed TOML; every error names `source`, the field and the rule."""

    def fail(fld: str, rule: str) -> ProfileError:
        return ProfileError(f"{source}: {fld}: {rule}", field=fld)

    def section(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise fail(key, "must be a table")
        return value

    known = {"description", "sip", "auth", "caller_id", "stir_shaken", "limits", "media", "amd", "outcomes"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise fail(unknown[0], f"unknown setting (known: {', '.join(sorted(known))})")

    sip = section("sip")
    proxy = sip.get("proxy")
    if not isinstance(proxy, str) or not proxy or proxy.startswith("sip:"):
        raise fail("sip.proxy", "required: host[:port] of the carrier's SIP proxy, without 'sip:'")
    transport = sip.get("transport", "udp")
    if transport not in TRANSPORTS:
        raise fail("sip.transport", f"must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    registrar = sip.get("registrar", "")
    if not isinstance(registrar, str):
        raise fail("sip.registrar", "must be a string (a SIP URI, or empty for no registration)")

    auth: TrunkAuth | None = None
    auth_data = section("auth")
    if auth_data:
        for secret in ("username", "password"):
            if secret in auth_data:
                raise fail(f"auth.{secret}", f"secrets never go in a profile: use auth.{secret}_env")
        user_env, pw_env = auth_data.get("username_env"), auth_data.get("password_env")
        if not isinstance(user_env, str) or not isinstance(pw_env, str) or not user_env or not pw_env:
            raise fail("auth", "needs username_env and password_env (environment variable names)")
        auth = TrunkAuth(username_env=user_env, password_env=pw_env, realm=str(auth_data.get("realm", "*")))

    caller_id = section("caller_id")
    presentation = caller_id.get("presentation", "from_and_pai")
    if presentation not in PRESENTATIONS:
        raise fail("caller_id.presentation", f"must be one of {', '.join(PRESENTATIONS)}")

    shaken = section("stir_shaken")
    stir_on = shaken.get("enabled", True)
    if not isinstance(stir_on, bool):
        raise fail("stir_shaken.enabled", "must be true or false")
    certificate = shaken.get("certificate", "")
    if not isinstance(certificate, str):
        raise fail("stir_shaken.certificate", "must be a string")

    limits = section("limits")
    max_cps = limits.get("max_cps", 30)
    if not isinstance(max_cps, int | float) or isinstance(max_cps, bool) or max_cps <= 0:
        raise fail("limits.max_cps", "must be a positive number of calls per second")
    max_concurrent = limits.get("max_concurrent_calls", 300)
    if not isinstance(max_concurrent, int) or isinstance(max_concurrent, bool) or max_concurrent <= 0:
        raise fail("limits.max_concurrent_calls", "must be a positive integer")
    ring = limits.get("ring_timeout_s", 25)
    if not isinstance(ring, int | float) or isinstance(ring, bool):
        raise fail("limits.ring_timeout_s", "must be a number of seconds")
    if ring < RING_TIMEOUT_FLOOR_S:
        raise fail(
            "limits.ring_timeout_s",
            f"{ring} s is below the {RING_TIMEOUT_FLOOR_S:.0f} s floor (a phone must ring at least 15 s)",
        )

    media = section("media")
    codecs = media.get("codecs", list(ALLOWED_CODECS))
    if not isinstance(codecs, list) or not codecs:
        raise fail("media.codecs", "must be a non-empty list")
    for codec in codecs:
        if codec not in ALLOWED_CODECS:
            raise fail("media.codecs", f"{codec!r} not allowed (allowed: {', '.join(ALLOWED_CODECS)})")
    if not {"PCMU", "PCMA"} & set(codecs):
        raise fail("media.codecs", "needs PCMU or PCMA")

    amd_header = section("amd").get("header", "")
    if not isinstance(amd_header, str):
        raise fail("amd.header", "must be a header name")

    overrides: dict[int, SipOutcome] = {}
    for key, value in section("outcomes").items():
        if not key.isdigit() or not 300 <= int(key) <= 699:
            raise fail(f"outcomes.{key}", "keys are final SIP status codes 300-699")
        try:
            overrides[int(key)] = SipOutcome(value)
        except ValueError:
            allowed = ", ".join(
                o.value for o in SipOutcome if o not in (SipOutcome.ANSWERED, SipOutcome.WORKER_LOST)
            )
            raise fail(f"outcomes.{key}", f"{value!r} is not an outcome (use one of {allowed})") from None

    return TrunkProfile(
        name=name,
        proxy=proxy,
        transport=transport,
        registrar=registrar,
        auth=auth,
        presentation=presentation,
        stir_shaken=stir_on,
        certificate=certificate,
        max_cps=float(max_cps),
        max_concurrent_calls=max_concurrent,
        codecs=tuple(codecs),
        ring_timeout_s=float(ring),
        amd_header=amd_header,
        status_outcomes=overrides,
    )


def profiles_by_certificate_label(profiles_dir: Path | None = None) -> dict[str, list[str]]:
    """Which trunk profiles sign calls and which certificate label each names (`[stir_shaken]
    certificate`), as label -> profile names; a profile that does not load is left out (the start gate
    reports it)."""
    by_label: dict[str, list[str]] = {}
    for name in available_profiles(profiles_dir):
        try:
            profile = load_profile(name, profiles_dir)
        except ValidationError:
            continue
        if profile.stir_shaken and profile.certificate:
            by_label.setdefault(profile.certificate, []).append(name)
    return by_label
