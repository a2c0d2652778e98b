"""STIR/SHAKEN for Clearline: sign every outbound call with a PASSporT, verify others', decide the
attestation level, and keep the organization's certificates and caller-ID (TN) inventory.

How other packages use it (see docs/stir-shaken.md for the whole story):

Signing (STI-AS), once per process, then once per INVITE::

    from attestation.signer import PassportSigner
    signer = PassportSigner.load(key_pem=..., x5u="https://.../api/certs/<id>", chain_pem=..., trust_anchors=...)
    value = signer.identity_header(orig="+12025550143", dest=["+13035550100"], attest="A",
                                   origid=str(uuid4()), iat=int(time.time()))
    # -> "<jws>;info=<x5u>;alg=ES256;ppt=shaken": put it in the INVITE's `Identity` header.
    # Raises passport.PassportError (bad claim) or signer.SigningRefusedError (certificate not valid at iat).

The attestation level, a pure decision recorded with each call attempt (`level`, `reason`)::

    from attestation.policy import attestation_for
    decision = attestation_for(inventory.caller_standing(session, org_id, caller_id))  # -> A, verified_number
    # (an organization none of whose numbers a platform admin verified is not an authenticated customer: C)

Verification (STI-VS), never raises on bad input::

    from attestation.verify import verify_identity, PinnedCertificate, X5uFetcher
    source = PinnedCertificate(load_certificates(chain_pem), trust_anchors)   # local certificate, no network
    source = X5uFetcher(trust_anchors=anchors, timeout_s=2.0, ttl_s=3600)     # or fetch x5u over HTTPS
    result = verify_identity(value, orig="+12025550143", dest="+13035550100", now=int(time.time()),
                             certificates=source, max_age_s=60)
    result.ok, result.reason, result.response, result.claims   # e.g. False, "stale_iat", 403, None

TN inventory and certificates (organization-scoped sessions)::

    from attestation import inventory, certificate_store
    inventory.number_status(session, org_id, "+12025550143")      # "verified" | "pending" | "rejected" | None
    inventory.pick_caller_id(session, org_id, "+12125551234")     # local presence: "+1212…" or None
    certificate_store.load_signer(session, org_id, secret_key=settings.secret_key,
                                  public_base_url=settings.public_base_url,
                                  trust_anchors=certificate_store.load_trust_anchors(settings.home), now=now)

Test certificates: `clearline certs test-ca --spc SPC --out DIR` or
`certificates.TestCertificateAuthority.create(now).write(dir, spc, now=now)`.
"""
