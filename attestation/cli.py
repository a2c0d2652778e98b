"""`clearline certs` and `clearline passport`: make a test STI-CA, sign and verify Identity headers."""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click

from attestation.certificates import CertificateError, TestCertificateAuthority, load_certificates
from attestation.passport import PassportError
from attestation.signer import PassportSigner
from attestation.verify import (
    DEFAULT_MAX_AGE_S,
    CertificateSource,
    PinnedCertificate,
    X5uFetcher,
    verify_identity,
)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("certs")
def certs() -> None:
    """SHAKEN certificates."""


@certs.command("test-ca")
@click.option("--spc", required=True, help="Service provider code to put in the TNAuthList.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", default=365, show_default=True, help="Validity of the SHAKEN certificate.")
def test_ca(spc: str, out: Path, days: int) -> None:
    """Create a private test STI-CA (root -> intermediate) and a SHAKEN certificate for SPC in OUT.
    For demos and tests only: no carrier trusts it."""
    now = datetime.now(UTC)
    try:
        files = TestCertificateAuthority.create(now).write(out, spc, now=now, days=days)
    except CertificateError as exc:
        _fail(str(exc))
    for role, path in files.items():
        click.echo(f"{role:17} {path}")


@certs.command("trust")
@click.option("--ca", "ca_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trust(ca_path: Path) -> None:
    """Trust the STI-CA root certificate(s) in CA: uploaded signing certificates must chain to one."""
    from attestation.certificate_store import add_trust_anchors
    from core.settings import load_settings

    try:
        added, path = add_trust_anchors(load_settings().home, load_certificates(ca_path.read_bytes()))
    except CertificateError as exc:
        _fail(str(exc))
    click.echo(f"{added} new trust anchor(s) in {path}")


@click.group("passport")
def passport() -> None:
    """Sign and verify STIR/SHAKEN PASSporTs (SIP Identity headers)."""


@passport.command("sign")
@click.option(
    "--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--x5u", required=True, help="https URL where the signing certificate is published.")
@click.option("--orig", required=True, help="Calling number (E.164, '+' optional).")
@click.option("--dest", required=True, multiple=True, help="Called number; repeat for several.")
@click.option("--attest", required=True, type=click.Choice(["A", "B", "C"]))
@click.option("--origid", default=None, help="Origination identifier (UUID); random when omitted.")
@click.option("--iat", type=int, default=None, help="Issued-at, unix seconds; now when omitted.")
@click.option(
    "--cert",
    "cert_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Certificate chain (leaf first) of the key: checked before signing.",
)
def sign(
    key_path: Path,
    x5u: str,
    orig: str,
    dest: tuple[str, ...],
    attest: str,
    origid: str | None,
    iat: int | None,
    cert_path: Path | None,
) -> None:
    """Print the full Identity header for one call."""
    at = int(time.time()) if iat is None else iat
    try:
        signer = PassportSigner.load(
            key_pem=key_path.read_bytes(),
            x5u=x5u,
            chain_pem=cert_path.read_bytes() if cert_path else None,
            now=at,
        )
        click.echo(signer.identity_header(orig, list(dest), attest, origid or str(uuid.uuid4()), at))
    except (CertificateError, PassportError) as exc:
        _fail(str(exc))


@passport.command("verify")
@click.option("--identity", required=True, help="The Identity header value ('Identity:' prefix optional).")
@click.option(
    "--cert",
    "cert_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this certificate (chain) instead of fetching x5u.",
)
@click.option(
    "--ca",
    "ca_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted STI-CA certificates (PEM bundle) the signing certificate must chain to.",
)
@click.option(
    "--max-age", default=DEFAULT_MAX_AGE_S, show_default=True, help="Oldest acceptable iat, seconds."
)
@click.option("--orig", default=None, help="The call's calling number, compared with the PASSporT.")
@click.option("--dest", default=None, help="The call's called number, compared with the PASSporT.")
@click.option("--now", type=int, default=None, help="Verify as of this unix time (default: now).")
@click.option(
    "--check-crl", is_flag=True, help="With a fetched x5u, also fetch and check the certificate's CRL."
)
def verify(
    identity: str,
    cert_path: Path | None,
    ca_path: Path | None,
    max_age: int,
    orig: str | None,
    dest: str | None,
    now: int | None,
    check_crl: bool,
) -> None:
    """Exit 0 and print the claims when the header is valid; otherwise exit 1 with the reason."""
    try:
        anchors = load_certificates(ca_path.read_bytes()) if ca_path else None
        source: CertificateSource
        if cert_path is not None:
            source = PinnedCertificate(load_certificates(cert_path.read_bytes()), anchors)
        elif anchors is not None:
            source = X5uFetcher(trust_anchors=anchors, check_crl=check_crl)
        else:
            _fail(
                "give --cert (a local certificate) or --ca (trust anchors to check the fetched x5u against)"
            )
    except CertificateError as exc:
        _fail(str(exc))
    result = verify_identity(
        identity,
        orig=orig,
        dest=dest,
        now=int(time.time()) if now is None else now,
        certificates=source,
        max_age_s=max_age,
    )
    if not result.ok:
        click.echo(f"invalid: {result.reason} ({result.response}): {result.detail}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result.claims, indent=2, sort_keys=True))
    click.echo(f"valid: {result.detail}", err=True)


COMMANDS: list[click.Command] = [certs, passport]
