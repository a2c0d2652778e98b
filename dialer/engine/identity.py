"""Who a call says it is from: caller ID (fixed or local presence), attestation level and Identity header.

Each organization signs with its own `PassportSigner` (loaded once, kept for every call); the TN inventory
says whether the caller ID is the organization's verified number (attestation A) or not (B). The engine
asks an `IdentitySource` for those, so the demo and tests can hand it a test certificate chain directly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from attestation.policy import decide_attestation
from attestation.signer import PassportSigner

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
    """Signers per organization, the TN inventory's status of a number, and local-presence choice."""

    signer_for: Callable[[uuid.UUID], PassportSigner | None]
    number_status: Callable[[uuid.UUID, str], str | None]
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
        decision = decide_attestation(
            customer_authenticated=True, number_status=self.number_status(org_id, caller_id)
        )
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
