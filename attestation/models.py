"""Tables of the attestation package."""
