"""Who a call says it is from: caller ID (fixed or local presence), attestation level and Identity header.

Each organization signs with its own `PassportSigner` (loaded once, kept for every call); the TN inventory
says whether the caller ID is the organization's verified number (attestation A) or not (B), and whether
the platform verified any of its numbers at all (if not, it is not an authenticated customer: C).
`platform_identity` reads both from the attestation package's stores.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from attestation import certificate_store, inventory
from attestation.policy import CallerStanding, attestation_for
from attestation.signer import PassportSigner
from core.db import Database, Scope

# The organization's own namespace for origids: stable per organization, different between them.
ORIGID_NAMESPACE = uuid.UUID("8f0e6a52-3f7e-4c1e-9d7b-5b1c2f6a9e01")


@dataclass(frozen=True)
class CallIdentity:
    caller_id: str
    attestation: str
    attestation_reason: str
    origid: str
    identity_header: str  # empty when the trunk does not sign


def origid_for(org_id: uuid.UUID) -> str:
    return str(uuid.uuid5(ORIGID_NAMESPACE, str(org_id)))


@dataclass
class IdentitySource:
    """Signers per organization, what the TN inventory says of a caller ID, and local-presence choice."""

    signer_for: Callable[[uuid.UUID], PassportSigner | None]
    caller_standing: Callable[[uuid.UUID, str], CallerStanding]
    local_caller_id: Callable[[uuid.UUID, str], str | None]

    def identify(
        self,
        *,
        org_id: uuid.UUID,
        lead_e164: str,
        caller_id_mode: str,
        fixed_caller_id: str | None,
        sign: bool,
        iat: int | None = None,
    ) -> CallIdentity | None:
        """The call's identity, or None when the campaign has no caller ID to present for this lead."""
        caller_id = None
        if caller_id_mode == "local_presence":
            caller_id = self.local_caller_id(org_id, lead_e164)
        caller_id = caller_id or fixed_caller_id
        if not caller_id:
            return None
        decision = attestation_for(self.caller_standing(org_id, caller_id))
        origid = origid_for(org_id)
        header = ""
        signer = self.signer_for(org_id) if sign else None
        if signer is not None:
            header = signer.identity_header(
                orig=caller_id,
                dest=[lead_e164],
                attest=decision.level,
                origid=origid,
                iat=int(time.time()) if iat is None else iat,
            )
        return CallIdentity(caller_id, decision.level, decision.reason, origid, header)


SIGNER_RELOAD_S = 300.0  # a newly activated certificate is used within this long


def platform_identity(
    db: Database, *, secret_key: str, public_base_url: str, trust_anchors: list[x509.Certificate] | None
) -> IdentitySource:
    """Each organization's active signing certificate and TN inventory, as stored by `attestation`."""
    signers: dict[uuid.UUID, tuple[float, PassportSigner | None]] = {}
    lock = threading.Lock()

    def signer_for(org_id: uuid.UUID) -> PassportSigner | None:
        now = time.time()
        with lock:
            cached = signers.get(org_id)
        if cached is not None and now - cached[0] < SIGNER_RELOAD_S:
            return cached[1]
        with db.session(Scope(org_id)) as s:
            signer = certificate_store.load_signer(
                s,
                org_id,
                secret_key=secret_key,
                public_base_url=public_base_url,
                trust_anchors=trust_anchors,
                now=int(now),
            )
        with lock:
            signers[org_id] = (now, signer)
        return signer

    def caller_standing(org_id: uuid.UUID, number: str) -> CallerStanding:
        with db.session(Scope(org_id)) as s:
            return inventory.caller_standing(s, org_id, number)

    def local_caller_id(org_id: uuid.UUID, lead_e164: str) -> str | None:
        with db.session(Scope(org_id)) as s:
            return inventory.pick_caller_id(s, org_id, lead_e164)

    return IdentitySource(
        signer_for=signer_for, caller_standing=caller_standing, local_caller_id=local_caller_id
    )
